"""`ZooCLI`: Lightning's CLI over any zoo model and DataModule, behind `zoo fit|validate|test`.

A run is described by YAML recipes (`recipes/*.yaml`); several `--config` files compose, later
ones winning, and `--trainer.*`, `--model.*`, `--data.*` override single values::

    zoo fit --config recipes/resnet_mnist.yaml
    zoo fit --config recipes/resnet_mnist.yaml --config recipes/trainer/gpu.yaml
    zoo fit --config recipes/resnet_mnist.yaml --ckpt_path last     # resume
    zoo test --config recipes/resnet_mnist.yaml --ckpt_path best

Each run writes to `<trainer.default_root_dir>/<name>/<version>/` (default `runs/`):
`checkpoints/` (best by the monitored metric, and `last.ckpt` refreshed every
`checkpoint.last_every_n_steps` steps), `plots/` (training curves, confusion matrix, sample
predictions), `config.yaml`, and the logger's files. The default logger is Weights & Biases,
offline when no API key is configured (sync later with `wandb sync`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import lightning as L
import lightning.pytorch.loggers
import yaml
from jsonargparse import Namespace
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException

from zoo.errors import BadInput
from zoo.files import atomic_write
from zoo.models.base import ZooModule
from zoo.training.argument_errors import short_config_error
from zoo.training.callbacks import (
    MetricsProgressBar,
    ModelSummaryTable,
    ZooCheckpoint,
)
from zoo.training.checkpoint_io import use_atomic_checkpoints
from zoo.training.loggers import (
    WANDB_PROJECT,
    CSVLogger,
    WandbLogger,
    finish_wandb,
    tensorboard_installed,
    wandb_offline,
)
from zoo.training.precision import precision_reason, training_precision
from zoo.training.quiet import quiet_known_noise
from zoo.training.recipes import link_in_features, resolve_config_args
from zoo.training.reports import PredictionReport, TrainingCurves
from zoo.training.run_dir import (
    DEFAULT_ROOT,
    choose_version,
    holds_a_run,
    process_rank,
    snake_case,
)

# The loggers are re-exported: configs saved before the layout moved name them as
# `zoo.lightning_cli.WandbLogger` / `.CSVLogger`, and that old path leads here (`zoo.moved`).
__all__ = ["CSVLogger", "ConfigError", "WandbLogger", "ZooCLI", "main", "run_cli"]

WANDB_RUN_ID_FILE = "wandb_run_id"
"""In a run directory: the id of the W&B run that `zoo fit` logged there, for resumes to reuse."""

DESCRIPTION = """\
Train, validate, test or predict with any zoo model and DataModule, configured by YAML recipes.

Several --config files compose (later wins); --trainer.*, --model.*, --data.* override single
values. `batch_size` is per device (per process under DDP): 4 GPUs with batch_size 128 train on
512 samples per step. Outputs go to runs/<name>/<version>/ (checkpoints/, plots/, config.yaml,
logs); the default logger is Weights & Biases, offline when no API key is configured.
"""

EXAMPLES = """\
examples:
  zoo fit --config recipes/resnet_mnist.yaml
  zoo fit --config recipes/resnet_mnist.yaml --config recipes/trainer/gpu.yaml
  zoo fit --config recipes/resnet_mnist.yaml --trainer.max_epochs 2 --data.batch_size 64
  zoo fit --config recipes/resnet_mnist.yaml --ckpt_path last      # resume the latest run
  zoo test --config recipes/resnet_mnist.yaml --ckpt_path best
  zoo fit --config recipes/resnet_mnist.yaml --print_config > my_recipe.yaml
"""

SUBCOMMAND_HELP = {
    "fit": "Train (and validate) a model; --ckpt_path last resumes the latest run.",
    "validate": "Evaluate a model on the validation split.",
    "test": "Evaluate a model on the test split (--ckpt_path best|last|PATH).",
    "predict": "Run a model over the predict split.",
}

TRAINER_DEFAULTS: dict[str, Any] = {
    "default_root_dir": DEFAULT_ROOT,
    "logger": {
        "class_path": "zoo.training.loggers.WandbLogger",
        "init_args": {"project": WANDB_PROJECT, "log_model": False},
    },
}


class ZooArgumentParser(LightningArgumentParser):
    """Lightning's parser with a one-line usage on errors instead of every option listed."""

    def print_usage(self, file: Any = None) -> None:
        """One line; `--help` still lists everything."""
        prog = self.prog.replace(" [options]", "")
        print(f"usage: {prog} [--config RECIPE.yaml ...] [--trainer.* / --model.* / --data.* ...]",
              file=file or sys.stdout)  # fmt: skip

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        """Raise `ConfigError`: one line saying which option is wrong and why (exit status 2)."""
        if not self.exit_on_error:
            super().error(message, ex)
        command = "zoo " + next((w for w in self.prog.split() if w in SUBCOMMAND_HELP), "fit")
        raise ConfigError(short_config_error(message), f"see {command} --help")


class ConfigError(BadInput):
    """The recipe or command line describes a run that cannot be built."""


class ZooSaveConfig(SaveConfigCallback):
    """Saves the run's config to its directory and logs it as hyperparameters."""

    def save_config(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Log the data, seed and run settings (the model's hyperparameters are logged anyway)."""
        values = yaml.safe_load(self.parser.dump(self.config, skip_none=False, format="yaml"))
        params = {k: values.get(k) for k in ("data", "seed_everything", "name", "version")}
        trainer_cfg = values.get("trainer", {})
        params["trainer"] = {
            k: v for k, v in trainer_cfg.items() if not isinstance(v, (dict, list))
        }
        for logger in trainer.loggers:
            logger.log_hyperparams(params)


class ZooCLI(LightningCLI):
    """LightningCLI for zoo: any `ZooModule` and DataModule from YAML, runs under `runs/`.

    On top of Lightning's CLI: a fixed default seed (0), the `name`/`version` run directory,
    `ZooCheckpoint` (configurable under `checkpoint.*`), W&B logging (offline without a key),
    the report callbacks, and `model.in_features` following the DataModule's `in_features`.
    """

    def __init__(self, args: Sequence[str] | None = None, run: bool = True) -> None:
        quiet_known_noise()
        parser_kwargs: dict[str, Any] = {
            "description": DESCRIPTION,
            "epilog": EXAMPLES,
            **{name: {"description": text} for name, text in SUBCOMMAND_HELP.items()},
        }
        self.run_dir: Path | None = None
        self._precision_note = ""
        self._created_dirs: list[Path] = []
        super().__init__(
            model_class=ZooModule,
            datamodule_class=L.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_callback=ZooSaveConfig,
            save_config_kwargs={"overwrite": True},
            trainer_defaults=dict(TRAINER_DEFAULTS),
            seed_everything_default=0,
            auto_configure_optimizers=False,
            parser_kwargs=parser_kwargs,
            parser_class=ZooArgumentParser,
            args=list(args) if args is not None else None,
            run=run,
        )

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse, then refuse a `--ckpt_path` of another model class than the recipe's.

        Lightning would rebuild the model from the checkpoint's own class, so testing a CNN
        checkpoint under the ResNet recipe ran the CNN and filed it under the ResNet's name.
        """
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        if subcommand:
            _check_checkpoint_class(self.config[subcommand])

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """`name`, `version` and `checkpoint.*`."""
        parser.add_argument(
            "--name",
            type=str | None,
            default=None,
            help="Experiment name: outputs go to <trainer.default_root_dir>/<name>/<version>/ "
            "(default: the model class, snake_case).",
        )
        parser.add_argument(
            "--version",
            type=str | None,
            default=None,
            help="Run directory under the experiment (default: the next version_N; with "
            "--ckpt_path last|best, the latest existing one). Set it explicitly for multi-node "
            "jobs started by torchrun or SLURM.",
        )
        parser.add_lightning_class_args(ZooCheckpoint, "checkpoint")

    def before_instantiate_classes(self) -> None:
        """Resolve the run directory, then point checkpoints, loggers and reports into it."""
        if self.subcommand is None:
            return
        config = self.config[self.subcommand]
        try:
            link_in_features(config)
        except (ValueError, FileNotFoundError) as err:
            raise ConfigError(str(err)) from err
        if self.subcommand == "fit":
            _check_run_length(config.trainer)
        self.run_dir = self._resolve_run_dir(config)
        try:
            self._point_outputs_into_run_dir(config, self.run_dir)
        except Exception:
            self._release_run_dir()
            raise

    def _point_outputs_into_run_dir(self, config: Namespace, run_dir: Path) -> None:
        if self.subcommand == "fit":
            self._choose_precision(config)
        config.checkpoint.dirpath = config.checkpoint.dirpath or str(run_dir / "checkpoints")
        self._resolve_ckpt_path(config)
        self._configure_loggers(config)
        callbacks: list[L.Callback] = [
            TrainingCurves(dirpath=run_dir),
            PredictionReport(dirpath=run_dir),
        ]
        if config.trainer.enable_progress_bar is not False:
            callbacks.insert(0, MetricsProgressBar())
        if config.trainer.enable_model_summary is not False:
            callbacks.append(ModelSummaryTable())
        self.trainer_defaults["callbacks"] = callbacks
        name = "config.yaml" if self.subcommand == "fit" else f"{self.subcommand}_config.yaml"
        self.save_config_kwargs["config_filename"] = name

    def _choose_precision(self, config: Namespace) -> None:
        """Train in bf16 where the hardware has it natively, unless the recipe or command says.

        The choice goes into the run's config, so `config.yaml` records what was used.
        """
        if config.trainer.precision is not None:
            return
        accelerator = config.trainer.accelerator
        config.trainer.precision = training_precision(accelerator)
        self._precision_note = (
            f"zoo fit: {config.trainer.precision}, "
            f"{precision_reason(config.trainer.precision, accelerator)}"
        )

    def instantiate_classes(self) -> None:
        """Build model, data and trainer; errors from their arguments become `ConfigError`s."""
        try:
            super().instantiate_classes()
        except (ValueError, FileNotFoundError, TypeError) as err:
            self._release_run_dir()
            raise ConfigError(short_config_error(err)) from err
        use_atomic_checkpoints(self.trainer)
        if self._precision_note and process_rank() == 0:  # said once the run is sure to start
            print(self._precision_note, file=sys.stderr)

    def _release_run_dir(self) -> None:
        # The run directory was claimed before the classes were built; a run that never
        # started leaves nothing behind (rmdir removes only an empty directory).
        for path in self._created_dirs:
            if path.is_dir():
                with contextlib.suppress(OSError):
                    path.rmdir()

    def _resolve_run_dir(self, config: Namespace) -> Path:
        root = Path(config.trainer.default_root_dir or DEFAULT_ROOT)
        model_class = str(config.model.class_path).rsplit(".", 1)[-1]
        config.name = config.name or snake_case(model_class)
        reuse_latest = config.get("ckpt_path") in ("last", "best")
        if self.subcommand == "fit" and config.version and not config.get("ckpt_path"):
            _refuse_finished_run(root / config.name / config.version)
        was_there = {path for path in (root, root / config.name) if path.exists()}
        config.version = choose_version(root / config.name, config.version, reuse_latest)
        run_dir = root / config.name / config.version
        self._created_dirs = [p for p in (run_dir, root / config.name, root) if p not in was_there]
        return run_dir

    def _resolve_ckpt_path(self, config: Namespace) -> None:
        """`best` → the best checkpoint file of this run; `last` outside fit → `last.ckpt`."""
        wanted = config.get("ckpt_path")
        if wanted not in ("best", "last") or (wanted == "last" and self.subcommand == "fit"):
            return
        folder = Path(config.checkpoint.dirpath)
        pattern = "best*.ckpt" if wanted == "best" else "last*.ckpt"
        found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime)
        if not found:
            raise ConfigError(
                f"--ckpt_path {wanted}: no {pattern} in {folder}. Train first (zoo fit with the "
                "same recipe), pick the run with --version, or pass a checkpoint file's path"
            )
        config.ckpt_path = str(found[-1])

    def _configure_loggers(self, config: Namespace) -> None:
        loggers = config.trainer.logger
        if not isinstance(loggers, list):
            loggers = [loggers]
        for logger in loggers:
            if isinstance(logger, Namespace) and "init_args" in logger:
                self._configure_logger(str(logger.class_path), logger.init_args, config)

    def _configure_logger(self, class_path: str, args: Namespace, config: Namespace) -> None:
        """Fill in what the recipe left at the logger's defaults: directory, names, offline."""
        assert self.run_dir is not None
        if class_path.endswith("WandbLogger"):
            if args.get("save_dir") in (None, ".") and args.get("dir") is None:
                args.save_dir = str(self.run_dir)
            args.project = args.get("project") or WANDB_PROJECT
            if args.get("name") is None:
                args.name = f"{config.name}/{config.version}"
            if "group" in args and args.group is None:
                args.group = config.name
            if args.get("id") is None and args.get("version") is None:
                args.id = self._resumed_wandb_id(config)
            if not args.get("offline") and wandb_offline():
                args.offline = True
                os.environ.setdefault("WANDB_SILENT", "true")
        elif class_path.endswith(("CSVLogger", "TensorBoardLogger")):
            if class_path.endswith("TensorBoardLogger") and not tensorboard_installed():
                # Lightning's own message is buried in jsonargparse's list of Union subtypes.
                raise ConfigError(
                    "the TensorBoard logger needs the tensorboard package: pip install "
                    "tensorboard (or log to a CSV file with --config recipes/logger/csv.yaml)"
                )
            if args.get("save_dir") in (None, "."):
                args.save_dir = str(self.run_dir.parent.parent)
            if args.get("name") in (None, "lightning_logs"):
                args.name = config.name
            if args.get("version") is None:
                args.version = config.version
            if "keep_existing" in args and config.get("ckpt_path"):
                args.keep_existing = True

    def _resumed_wandb_id(self, config: Namespace) -> str | None:
        """The W&B run that trained this run directory, when `fit` resumes from a checkpoint."""
        assert self.run_dir is not None
        record = self.run_dir / WANDB_RUN_ID_FILE
        if self.subcommand != "fit" or not config.get("ckpt_path") or not record.is_file():
            return None
        return record.read_text().strip() or None

    def before_fit(self) -> None:
        """Note the W&B run's id in the run directory: `--ckpt_path` resumes continue that run."""
        if self.run_dir is None or process_rank() > 0:
            return
        for logger in self.trainer.loggers:
            if isinstance(logger, lightning.pytorch.loggers.WandbLogger):
                run_id = logger.experiment.id
                atomic_write(self.run_dir / WANDB_RUN_ID_FILE, f"{run_id}\n".encode())


CHECKPOINT_ALIASES = ("last", "best", "hpc", "registry")


def check_checkpoint_arg(argv: Sequence[str]) -> None:
    """Refuse a `--ckpt_path FILE` that is not a readable checkpoint, in one line, before a run.

    The file is opened the way Lightning will open it (`torch.load(weights_only=True)`: no code
    from it runs), so that torch's multi-paragraph message never reaches the user.
    """
    value = _option_value(argv, "--ckpt_path")
    if value is None or value in CHECKPOINT_ALIASES or value.startswith("registry:"):
        return
    path = Path(value)
    where = f"--ckpt_path {value}"
    if not path.exists():
        raise ConfigError(f"{where}: no such file; give a checkpoint file, or last or best")
    if not path.is_file():
        raise ConfigError(f"{where} is not a regular file; give a checkpoint (.ckpt) file")
    if path.stat().st_size == 0:
        raise ConfigError(f"{where} is empty: the save that wrote it did not finish")
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(
            f"{where} is not a checkpoint zoo can read safely ({first[:160]}); give a .ckpt "
            "file saved by zoo fit"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(f"{where} holds no Lightning checkpoint (no state_dict)")


def _check_checkpoint_class(config: Namespace) -> None:
    ckpt_path = config.get("ckpt_path")
    if not ckpt_path or not Path(ckpt_path).is_file():
        return  # an alias (last, best) names this recipe's own run
    import torch

    hparams = torch.load(ckpt_path, map_location="cpu", weights_only=True).get("hyper_parameters")
    saved = (hparams or {}).get("_class_path")
    wanted = str(config.model.class_path)
    if saved and _class_name(saved) != _class_name(wanted):
        raise ConfigError(
            f"--ckpt_path {ckpt_path} is a checkpoint of {_class_name(saved)}, but the recipe "
            f"builds {_class_name(wanted)}",
            f"give a {_class_name(wanted)} checkpoint, or the recipe of {_class_name(saved)}",
        )


def _class_name(class_path: str) -> str:
    # `zoo.ResNetMNIST` and `zoo.models.resnet.ResNetMNIST` are the same class.
    return class_path.replace(":", ".").rsplit(".", 1)[-1]


def _option_value(argv: Sequence[str], option: str) -> str | None:
    for i, item in enumerate(argv):
        if item == option and i + 1 < len(argv):
            return argv[i + 1]
        if item.startswith(option + "="):
            return item.split("=", 1)[1]
    return None


def _refuse_finished_run(run_dir: Path) -> None:
    if process_rank() == 0 and holds_a_run(run_dir):
        raise ConfigError(
            f"--version {run_dir.name}: {run_dir} already holds a run, which this one would "
            "overwrite",
            "give another --version (or none for the next free one), or continue that run "
            "with --ckpt_path last",
        )


def _check_run_length(trainer: Namespace) -> None:
    """Refuse a run that would train nothing (or forever by accident) before it is set up."""
    for name in ("max_epochs", "max_steps"):
        value = trainer.get(name)
        if value is not None and value != -1 and value < 1:
            raise ConfigError(
                f"--trainer.{name} {value} trains nothing: give at least 1 (-1: no limit, when "
                "the other of max_epochs/max_steps is set)"
            )


def run_cli(args: Sequence[str] | None = None) -> ZooCLI:
    """Run one `fit`/`validate`/`test`/`predict` command (`args` as on the command line)."""
    failed = True
    try:
        cli = ZooCLI(args=args)
        failed = False
        return cli
    finally:
        finish_wandb(failed)


def main(args: Sequence[str] | None = None) -> int:
    """Entry point for the Lightning subcommands of `zoo`; returns the exit status.

    `--config NAME` reads zoo's recipe of that name (`resnet_mnist`, `trainer/gpu`); an existing
    file path is read as it is (`zoo.training.recipes.recipe_path`).
    """
    from_command_line = args is None or list(args) == sys.argv[1:]
    resolved = resolve_config_args(sys.argv[1:] if args is None else args)
    check_checkpoint_arg(resolved)
    if from_command_line:
        # Lightning parses sys.argv itself (it warns when given both), and DDP starts its other
        # processes from sys.argv: the recipes' paths go there, so every process reads the same.
        sys.argv[1:] = resolved
        args = None
    else:
        args = resolved
    try:
        run_cli(args)
    except SIGTERMException:
        # Lightning ends a SIGTERM'd run with SystemExit(None), status 0: a scheduler or script
        # would then record the run as finished.
        if rank_zero_only.rank == 0:
            print(
                "zoo fit: stopped by SIGTERM — resume the run with --ckpt_path last",
                file=sys.stderr,
            )
        return 128 + signal.SIGTERM
    return 0
