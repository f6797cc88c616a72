"""Publishing a Lightning checkpoint: safetensors file, table entry, model card, plots.

`publish` reads the checkpoint without unpickling code (`torch.load(weights_only=True)`), loads
its `state_dict` strictly into the registered model, measures it on the official test split,
fits its temperature on the validation split (`zoo.weights.calibration`), and only when every
check has passed writes the files, all or nothing (`zoo.weights.transaction`): a replaced
weight stays loadable until the new table is in place. The safetensors file holds the trained
weights as they are; the temperature lives in the table.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import pickle
import re
import urllib.parse
import warnings
from pathlib import Path
from typing import Any

import lightning
import safetensors.torch
import torch
from torch import Tensor

from zoo.files import atomic_write
from zoo.models import ZooModule, model_info, model_names
from zoo.models.base import PRECISION_KEY
from zoo.weights.calibration import CalibrationError, CalibrationRun, calibrate_model
from zoo.weights.cards import check_metrics_csv, render_curves, render_reliability
from zoo.weights.evaluate import (
    DATAMODULES,
    check_data_dir,
    cpu_name,
    default_datamodule,
    describe_data,
    evaluate,
    hardware,
    make_datamodule,
)
from zoo.weights.table import (
    Calibration,
    DatasetInfo,
    EvaluationInfo,
    TrainingInfo,
    Weight,
    WeightError,
    WeightTable,
    bundled_files_dir,
    check_tag,
    packaged_table_path,
    source_root,
)
from zoo.weights.transaction import commit, file_name_for, stage_plot, writing

# One metadata entry only: safetensors writes several in arbitrary order, and the file's
# bytes (hence its SHA-256) must depend on nothing but the weights and their name.
HEADER_KEY = "zoo_weight"
# Keys of a Lightning state_dict that belong to torchmetrics objects, not to the network.
METRIC_PREFIX = "metrics."
PLAIN_TYPES = (str, int, float, bool, type(None))
# The first bytes of a zip archive: every checkpoint torch.save has written since PyTorch 1.6.
ZIP_MAGIC = b"PK\x03\x04"
GIVE_CKPT = (
    "give the .ckpt file a Lightning Trainer saved (zoo fit keeps them in "
    "runs/NAME/VERSION/checkpoints/, e.g. last.ckpt)"
)


def source_table() -> WeightTable:
    """The table and `zoo/weights/published/` of the source checkout zoo runs from: where
    publish writes."""
    if source_root() is None:
        raise WeightError(
            "publishing writes into a source checkout (zoo/weights/published/ and "
            "zoo/weights/published.json), but zoo runs from an installed copy",
            "run it from a clone of the repository (pip install -e .), or in Python pass table=",
        )
    return WeightTable(packaged_table_path(), bundled_files_dir())


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint loaded without executing code, with its state_dict and hparams.

    Anything else (a missing path, a folder, an empty, truncated or text file, a pickle that
    would run code) is a `WeightError` naming the file and what to give instead.
    """
    path = Path(path)
    zipped = _checkpoint_kind(path)
    try:
        with warnings.catch_warnings():
            # torch warns about the pickle protocol of a file it then refuses: zoo says why.
            warnings.filterwarnings("ignore", message=r"Detected pickle protocol")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if unsafe is None:  # a pickle, but not of a checkpoint
            raise _not_a_checkpoint(path, zipped) from None
        raise WeightError(
            f"{path} cannot be loaded safely (weights_only=True): it holds a {unsafe[1]}, "
            "which only running code from the file could rebuild",
            "give a checkpoint whose hyperparameters are plain values (str, int, float, bool, "
            "lists and dicts of them)",
        ) from None
    except (RuntimeError, EOFError, ValueError, KeyError, IndexError, UnicodeDecodeError):
        raise _not_a_checkpoint(path, zipped) from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise WeightError(f"{path} is not a Lightning checkpoint (it has no state_dict)", GIVE_CKPT)
    return ckpt


def _checkpoint_kind(path: Path) -> bool:
    """Whether `path` is a zip archive (a modern torch checkpoint); raise for what is no file."""
    if path.is_dir():
        raise WeightError(f"checkpoint {path} is a folder, not a checkpoint file", GIVE_CKPT)
    if not path.exists():
        raise WeightError(f"checkpoint {path} does not exist", GIVE_CKPT)
    if not path.is_file():  # reading a FIFO would wait forever, a device would never end
        raise WeightError(f"checkpoint {path} is not a regular file", GIVE_CKPT)
    with open(path, "rb") as file:
        head = file.read(len(ZIP_MAGIC))
    if not head:
        raise WeightError(
            f"checkpoint {path} is empty (0 bytes): the run that saved it did not finish",
            GIVE_CKPT,
        )
    return head == ZIP_MAGIC


def _not_a_checkpoint(path: Path, zipped: bool) -> WeightError:
    if zipped:
        return WeightError(
            f"checkpoint {path} is truncated or damaged (an incomplete zip archive)",
            "copy it again, or give another .ckpt of the run",
        )
    return WeightError(f"{path} is not a PyTorch checkpoint", GIVE_CKPT)


def plain_hparams(ckpt: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The model's constructor arguments from a checkpoint, without LightningCLI's private keys."""
    hparams = {k: v for k, v in dict(ckpt.get("hyper_parameters", {})).items() if k[0] != "_"}
    for key, value in hparams.items():
        try:
            json.dumps(value)
        except TypeError:
            raise WeightError(
                f"{path}: hyperparameter {key}={value!r} is not a plain JSON value"
            ) from None
    return hparams


def model_from_checkpoint(
    name: str, ckpt: dict[str, Any], init_args: dict[str, Any]
) -> tuple[ZooModule, dict[str, Tensor]]:
    """The registered model `name` with the checkpoint's weights loaded strictly."""
    cls = model_info(name).cls
    # LightningCLI records the class it built; zoo's models are importable as zoo.<Class> too.
    class_path = dict(ckpt.get("hyper_parameters", {})).get("_class_path")
    if class_path is not None and class_path.rsplit(".", 1)[-1] != cls.__name__:
        raise WeightError(
            f"the checkpoint holds a {class_path}, not a {cls.__name__} ({name}); pick the "
            "matching --name"
        )
    try:
        model = model_info(name).create(**init_args)
    except (TypeError, ValueError) as err:
        raise WeightError(f"the checkpoint's hyperparameters do not fit {name}: {err}") from None
    state = {k: v for k, v in ckpt["state_dict"].items() if not k.startswith(METRIC_PREFIX)}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise WeightError(f"the checkpoint does not hold a {name} model: {err}") from None
    # Save the model's own tensors (contiguous copies), exactly what load_state_dict will expect.
    return model.eval(), {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}


def _check_arguments(
    seed: Any, epochs: Any, wall_time_s: Any, url: str | None
) -> None:  # fmt: skip
    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not whole(seed):
        raise WeightError(f"seed must be the integer the run was seeded with, got {seed!r}")
    if epochs is not None and not (whole(epochs) and epochs >= 0):
        raise WeightError(f"epochs (--epochs) must be a whole number, 0 or more, got {epochs!r}")
    if wall_time_s is not None and not (
        isinstance(wall_time_s, (int, float)) and 0 < wall_time_s < math.inf
    ):
        raise WeightError(
            f"wall_time_s (--wall-time) must be the run's training seconds, more than 0, "
            f"got {wall_time_s!r}"
        )
    if url is not None and urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise WeightError(
            f"url (--url) must be an http:// or https:// address, got {url!r}",
            "give where the .safetensors file can be downloaded, or leave it out",
        )


def training_record(
    ckpt: dict[str, Any],
    seed: int,
    recipe: str | None,
    epochs: int | None,
    wall_time_s: float | None,
    hardware_used: str | None,
    notes: str,
) -> TrainingInfo:
    """The weight's `training` section from the checkpoint and what the caller states."""
    if epochs is None:
        epochs = _nested(ckpt, "loops", "fit_loop", "epoch_progress", "current", "processed")
    if wall_time_s is None:
        wall_time_s = _nested(ckpt, "callbacks", "Timer", "time_elapsed", "train")
    if not isinstance(epochs, int) or epochs < 0:
        raise WeightError("the checkpoint does not say how many epochs ran", "pass --epochs N")
    if not isinstance(wall_time_s, (int, float)) or wall_time_s <= 0:
        raise WeightError(
            "the training wall time is unknown",
            "pass wall_time_s= (--wall-time SECONDS), or train with Lightning's Timer callback, "
            "which stores it in the checkpoint",
        )
    return TrainingInfo(
        recipe=recipe,
        seed=seed,
        epochs=epochs,
        steps=int(ckpt.get("global_step", 0)),
        wall_time_s=round(float(wall_time_s), 3),
        hardware=hardware_used or hardware(),
        lightning=ckpt.get("pytorch-lightning_version", "unknown"),
        notes=notes,
        precision=ckpt.get(PRECISION_KEY) if isinstance(ckpt.get(PRECISION_KEY), str) else None,
    )


def _nested(tree: Any, *keys: str) -> Any:
    for key in keys:
        tree = tree.get(key) if isinstance(tree, dict) else None
    return tree


def publish(
    ckpt_path: str | Path,
    *,
    name: str,
    tag: str,
    seed: int,
    recipe: str | None = None,
    epochs: int | None = None,
    wall_time_s: float | None = None,
    hardware_used: str | None = None,
    notes: str = "",
    url: str | None = None,
    datamodule: str | None = None,
    data_args: dict[str, Any] | None = None,
    data_dir: str | Path | None = None,
    metrics_csv: str | Path | None = None,
    make_default: bool = True,
    force: bool = False,
    license: str = "MIT",
    table: WeightTable | None = None,
) -> Weight:
    """Publish a Lightning checkpoint as `name.tag`: safetensors file, table entry, card, plot.

    Args:
        ckpt_path: the Lightning `.ckpt` (loaded with `weights_only=True`).
        name: the registry name of the model (`resnet_mnist`).
        tag: the weight's tag (`mnist_v1`); an existing one is replaced only with `force`.
        seed: the seed the run was trained with.
        recipe: the recipe (`recipes/resnet_mnist.yaml`) or command that trained it.
        epochs: epochs trained (default: read from the checkpoint).
        wall_time_s: training time (default: the checkpoint's Timer callback state).
        hardware_used: what it was trained on (default: this machine).
        notes: anything a user should know (e.g. "short run").
        url: where the file can be downloaded when it is not bundled.
        datamodule: the zoo DataModule to measure on (default: the model's dataset).
        data_args: its arguments (default: the defaults the table uses for that dataset).
        data_dir: where image datasets live (not recorded).
        metrics_csv: a CSVLogger `metrics.csv` to plot the training curves from.
        make_default: make `name.default` resolve to this tag.
        force: replace an existing `name.tag`.
        license: the weights' licence.
        table: where to publish (default: the source checkout's `zoo/weights/`).

    Returns the published weight. Everything is validated and measured before any file is written.
    """
    table = table or source_table()
    key = _check_new_key(name, tag, table, force)
    _check_arguments(seed, epochs, wall_time_s, url)
    check_data_dir(data_dir)
    if metrics_csv is not None:
        check_metrics_csv(metrics_csv)
    ckpt = read_checkpoint(ckpt_path)
    init_args = plain_hparams(ckpt, ckpt_path)
    model, state = model_from_checkpoint(name, ckpt, init_args)
    training = training_record(
        ckpt, seed, recipe, epochs, wall_time_s, hardware_used, notes
    )  # fmt: skip
    dm_name, dm_args = _datamodule_choice(name, datamodule, data_args, trained_with(ckpt))
    dm = make_datamodule(dm_name, dm_args, data_dir)
    evaluation = evaluate(model, dm)
    calibration, diagram = fit_calibration(model, dm, key)
    curves = render_curves(metrics_csv, key) if metrics_csv is not None else None
    payload = safetensors.torch.save(
        state, metadata={HEADER_KEY: key}
    )  # fmt: skip
    data = describe_data(dm, model)
    weight = Weight(
        model=name,
        tag=tag,
        file=f"{key}.safetensors",
        sha256=hashlib.sha256(payload).hexdigest(),
        size=len(payload),
        url=url,
        num_params=sum(p.numel() for p in model.parameters()),
        init_args=init_args,
        dataset=DatasetInfo(
            name=data.name,
            datamodule=dm_name,
            init_args=dm_args,
            split="test",
            samples=evaluation.samples,
            test_sha256=evaluation.test_sha256,
            files_md5=data.files_md5,
            license=data.license,
        ),
        preprocessing=data.preprocessing,
        categories=data.categories,
        metrics=evaluation.metrics(),
        calibration=calibration,
        evaluation=EvaluationInfo(
            batch_size=evaluation.batch_size,
            dtype="float32",
            device="cpu",
            hardware=cpu_name(),
            torch=torch.__version__,
            lightning=lightning.__version__,
        ),
        training=training,
        license=license,
        date=dt.date.today().isoformat(),
    )
    # The staged table checks the new entry exactly as loading the table will.
    table.with_weight(weight, make_default)
    plots = {table.curve_path(weight): curves, table.reliability_path(weight): diagram}
    _write(table, weight, make_default, force, payload, plots)
    return table.get(key)


def fit_calibration(
    model: ZooModule, datamodule: lightning.LightningDataModule, key: str
) -> tuple[Calibration | None, bytes | None]:
    """The weight's `calibration` and its reliability diagram (PNG), or (None, None) when no
    temperature can be fitted (`zoo.weights.calibration.uncalibrated_reason` says why)."""
    try:
        run = calibrate_model(model, datamodule)
    except CalibrationError:
        return None, None
    return run.calibration, reliability_png(run, key)


def reliability_png(run: CalibrationRun, key: str) -> bytes:
    """The reliability diagram of a calibration run, titled with the weight's key."""
    return render_reliability(run.before, run.after, run.calibration.temperature, key)


def _check_new_key(name: str, tag: str, table: WeightTable, force: bool) -> str:
    if name not in model_names():
        raise WeightError(
            f"unknown model {name!r} (--name)", f"choose one of: {', '.join(model_names())}"
        )
    check_tag(tag)
    key = f"{name}.{tag}"
    if key in table and not force:
        raise WeightError(
            f"{key} is already published ({table.table_path})",
            "choose another tag, or pass force=True (--force) to replace it",
        )
    return key


def trained_with(ckpt: dict[str, Any]) -> str | None:
    """The zoo DataModule a checkpoint's run trained with, where the checkpoint says.

    Lightning saves a DataModule's state under its class name, so a Fashion-MNIST run's
    checkpoint holds `FashionMNISTDataModule`: measuring it on MNIST would publish a chance-level
    score for a good weight.
    """
    return next((key for key in ckpt if key in DATAMODULES), None)


def _datamodule_choice(
    name: str, datamodule: str | None, data_args: dict[str, Any] | None, trained: str | None
) -> tuple[str, dict[str, Any]]:
    if datamodule and trained and datamodule != trained:
        raise WeightError(
            f"--datamodule {datamodule}: the checkpoint's run trained with {trained}",
            f"measure it on the data it learned: leave --datamodule out, or give {trained}",
        )
    default_name, default_args = default_datamodule(name)
    chosen = datamodule or trained or default_name
    args = (
        dict(data_args)
        if data_args is not None
        else (default_args if chosen == default_name and not datamodule else {})
    )
    for key, value in args.items():
        if key == "data_dir" or not isinstance(value, PLAIN_TYPES):
            raise WeightError(
                f"data argument {key}={value!r} cannot be recorded: pass plain values, and the "
                "data directory as data_dir="
            )
    return chosen, args


def _write(
    table: WeightTable,
    weight: Weight,
    make_default: bool,
    force: bool,
    payload: bytes,
    plots: dict[Path, bytes | None],
) -> None:
    """Commit `weight` with its file and plots into `table` all or nothing
    (`zoo.weights.transaction`): a kill or a full disk at any moment leaves the old table, or
    the new one, each with every file it lists."""
    with writing(table):
        # Re-checked under the lock: another publish may have taken the tag meanwhile.
        _check_new_key(weight.model, weight.tag, table, force)
        weight = dataclasses.replace(weight, file=file_name_for(weight, table))
        staged = table.with_weight(weight, make_default)

        def stage() -> None:
            atomic_write(table.file_path(weight), payload)
            for plot, data in plots.items():
                stage_plot(plot, data, weight)

        commit(table, staged, stage)
