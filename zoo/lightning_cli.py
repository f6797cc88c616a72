"""`zoo fit|validate|test|predict`: Lightning's CLI over any zoo model and DataModule.

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

import csv
import importlib
import importlib.util
import inspect
import logging
import netrc
import os
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import lightning.pytorch.loggers
import yaml
from jsonargparse import Namespace
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.utilities import rank_zero_only

from zoo.callbacks import (
    MetricsProgressBar,
    PredictionReport,
    TrainingCurves,
    TrainingDiverged,
    ZooCheckpoint,
)
from zoo.models.base import ZooModule
from zoo.weights.table import atomic_write

DEFAULT_ROOT = "runs"
WANDB_PROJECT = "zoo"
VERSION_ENV = "ZOO_RUN_VERSION"
"""Set by rank 0 so that the DDP processes it launches write into the same run directory."""
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
        "class_path": "zoo.lightning_cli.WandbLogger",
        "init_args": {"project": WANDB_PROJECT, "log_model": False},
    },
}

_NOISE = (
    "💡 Tip: For seamless cloud logging",
    "TPU available:",
    "HPU available:",
)


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_NOISE)


def quiet_known_noise() -> None:
    """Silence messages that never apply to zoo runs; real warnings and errors still show."""
    # torch's pytree deprecation, triggered inside Lightning, not by our code.
    warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated")
    # Our loaders slice tensors in memory: worker processes would only slow them down.
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # Lightning calls jsonargparse APIs deprecated in 4.49; nothing a zoo user can act on.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="lightning.pytorch.cli")
    # Lightning's advert for its hosted logger, and accelerators this project never uses.
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _DropNoise) for f in log.filters):
            log.addFilter(_DropNoise())


def wandb_has_credentials() -> bool:
    """True when W&B can log online: `WANDB_API_KEY` set, or a netrc entry for its host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = re.sub(r"^https?://", "", os.environ.get("WANDB_BASE_URL", "api.wandb.ai")).rstrip("/")
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return path.is_file() and netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_offline() -> bool:
    """Whether W&B must log offline: `WANDB_MODE=offline`, or no credentials to log online.

    Going offline instead of online without a key means a run never stops at a login prompt.
    """
    mode = os.environ.get("WANDB_MODE", "").lower()
    if mode in ("offline", "dryrun"):
        return True
    if mode == "disabled":
        return False
    return not wandb_has_credentials()


def _process_rank() -> int:
    for var in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 0


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _versions(experiment_dir: Path) -> list[int]:
    if not experiment_dir.is_dir():
        return []
    found = (re.fullmatch(r"version_(\d+)", p.name) for p in experiment_dir.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def _import(class_path: str) -> type:
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def link_in_features(config: Namespace) -> None:
    """Set `model.init_args.in_features` from the DataModule's `in_features`, where both exist.

    A model taking `in_features` (MultiFeatureMLP) gets the width of the data it is given
    (30 for the bundled breast-cancer set, 8 for the course's diabetes CSV). Unlike a
    jsonargparse link this leaves other models' hyperparameters untouched, so their
    checkpoints reload cleanly.
    """
    model_class, data_class = _import(config.model.class_path), _import(config.data.class_path)
    if "in_features" not in inspect.signature(model_class).parameters:
        return
    if not isinstance(getattr(data_class, "in_features", None), property):
        return
    datamodule = data_class(**config.data.init_args.as_dict())
    config.model.init_args.in_features = datamodule.in_features


class WandbLogger(lightning.pytorch.loggers.WandbLogger):
    """Lightning's `WandbLogger`, minus a warning recent wandb prints on every run.

    Lightning always passes `anonymous=None` to `wandb.init`, which wandb ≥ 0.22 answers with
    "The anonymous setting has no effect"; the argument is dropped when it is unset.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)


class _KeepingCSVWriter(ExperimentWriter):
    """Lightning's CSV writer, continuing an existing `metrics.csv` instead of deleting it."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = next(csv.reader(file), [])


class CSVLogger(lightning.pytorch.loggers.CSVLogger):
    """Lightning's `CSVLogger`; with `keep_existing`, new rows go after the run's earlier ones.

    Lightning's writer deletes an existing `metrics.csv` when it starts, so resuming a run (or
    testing its checkpoint) in the same directory would lose every row logged before. zoo's CLI
    sets `keep_existing` whenever it is given a `--ckpt_path`.
    """

    def __init__(self, keep_existing: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keep_existing = keep_existing

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        """The writer; one that continues the existing file under `keep_existing`."""
        if self._experiment is None and self.keep_existing:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingCSVWriter(log_dir=self.log_dir)
        return super().experiment


class ZooArgumentParser(LightningArgumentParser):
    """Lightning's parser with a one-line usage on errors instead of every option listed."""

    def print_usage(self, file: Any = None) -> None:
        """One line; `--help` still lists everything."""
        prog = self.prog.replace(" [options]", "")
        print(f"usage: {prog} [--config RECIPE.yaml ...] [--trainer.* / --model.* / --data.* ...]",
              file=file or sys.stdout)  # fmt: skip


class ConfigError(ValueError):
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
        self.run_dir = self._resolve_run_dir(config)
        config.checkpoint.dirpath = config.checkpoint.dirpath or str(self.run_dir / "checkpoints")
        self._resolve_ckpt_path(config)
        self._configure_loggers(config)
        callbacks: list[L.Callback] = [
            TrainingCurves(dirpath=self.run_dir),
            PredictionReport(dirpath=self.run_dir),
        ]
        if config.trainer.enable_progress_bar is not False:
            callbacks.insert(0, MetricsProgressBar())
        self.trainer_defaults["callbacks"] = callbacks
        name = "config.yaml" if self.subcommand == "fit" else f"{self.subcommand}_config.yaml"
        self.save_config_kwargs["config_filename"] = name

    def instantiate_classes(self) -> None:
        """Build model, data and trainer; errors from their arguments become `ConfigError`s."""
        try:
            super().instantiate_classes()
        except (ValueError, FileNotFoundError, TypeError) as err:
            raise ConfigError(f"{type(err).__name__}: {err}") from err

    def _resolve_run_dir(self, config: Namespace) -> Path:
        root = Path(config.trainer.default_root_dir or DEFAULT_ROOT)
        model_class = str(config.model.class_path).rsplit(".", 1)[-1]
        config.name = config.name or _snake(model_class)
        experiment = root / config.name
        if config.version is None and _process_rank() > 0 and os.environ.get(VERSION_ENV):
            config.version = os.environ[VERSION_ENV]
        if config.version is None:
            existing = _versions(experiment)
            reuse = config.get("ckpt_path") in ("last", "best") and existing
            number = existing[-1] if reuse else (existing[-1] + 1 if existing else 0)
            config.version = f"version_{number}"
        if _process_rank() == 0:
            os.environ[VERSION_ENV] = config.version
        return experiment / config.version

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
            if class_path.endswith("TensorBoardLogger"):
                _require_tensorboard()
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
        if self.run_dir is None or _process_rank() > 0:
            return
        for logger in self.trainer.loggers:
            if isinstance(logger, lightning.pytorch.loggers.WandbLogger):
                run_id = logger.experiment.id
                atomic_write(self.run_dir / WANDB_RUN_ID_FILE, f"{run_id}\n".encode())


def _require_tensorboard() -> None:
    # Lightning's own message for this is buried in jsonargparse's list of Union subtypes.
    if not any(importlib.util.find_spec(name) for name in ("tensorboard", "tensorboardX")):
        raise ConfigError(
            "the TensorBoard logger needs the tensorboard package: pip install tensorboard "
            "(or log to a CSV file with --config recipes/logger/csv.yaml)"
        )


def _finish_wandb(failed: bool) -> None:
    """Close the W&B run (flushes its summary) so the next run in this process starts fresh."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish(exit_code=1 if failed else 0)


def run_cli(args: Sequence[str] | None = None) -> ZooCLI:
    """Run one `fit`/`validate`/`test`/`predict` command (`args` as on the command line)."""
    failed = True
    try:
        cli = ZooCLI(args=args)
        failed = False
        return cli
    finally:
        _finish_wandb(failed)


def main(args: Sequence[str] | None = None) -> int:
    """Entry point for the Lightning subcommands of `zoo`; returns the exit status."""
    if args is not None and list(args) == sys.argv[1:]:
        args = None  # parse sys.argv itself: Lightning warns when given both
    try:
        run_cli(args)
    except ConfigError as err:
        print(f"zoo: error: {err}", file=sys.stderr)
        return 2
    except TrainingDiverged as err:
        if rank_zero_only.rank == 0:  # under DDP every rank stops here; one message is enough
            print(f"zoo: error: {err}", file=sys.stderr)
        return 1
    return 0
