"""Deterministic evaluation on a dataset's test split: what the table records and `zoo eval` prints.

One code path for publishing, for the test that checks the table, and for `zoo eval`: a
Lightning `Trainer.test` on one CPU in float32, in eval mode, with the batch size the table
records, on a test split identified by the SHA-256 of its tensors.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor

import zoo.data
from zoo.data import ImageDataModule, LinearToyDataModule, TabularDataModule, ToyDataModule
from zoo.data.loader import TensorBatchLoader
from zoo.hardware import cpu_name
from zoo.models import Regressor, ZooModule, model_info
from zoo.weights.table import Metrics, Preprocessing, Weight, WeightError

DATAMODULES = {
    name: getattr(zoo.data, name)
    for name in zoo.data.__all__
    if isinstance(getattr(zoo.data, name), type)
    and issubclass(getattr(zoo.data, name), L.LightningDataModule)
}
DEFAULT_DATAMODULES = {
    "MNIST": "MNISTDataModule",
    "CIFAR-10": "CIFAR10DataModule",
    "tabular": "TabularDataModule",
}
DATA_LICENSES = {
    "mnist": "CC BY-SA 3.0 (LeCun, Cortes, Burges)",
    "fashion_mnist": "MIT (Zalando Research)",
    "cifar10": "CIFAR-10 terms (Krizhevsky 2009), see https://www.cs.toronto.edu/~kriz/cifar.html",
    "breast_cancer": "CC BY 4.0 (UCI Breast Cancer Wisconsin (Diagnostic), via scikit-learn)",
}
# Rounding of continuous numbers in the table, and how close a re-evaluation must come to them
# (accuracy is a count of correct samples and must match exactly).
SIGNIFICANT_DIGITS = 6
REL_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Evaluation:
    """The result of one evaluation on a test split."""

    metric_name: str
    value: float
    loss: float
    correct: int | None
    samples: int
    batch_size: int
    test_sha256: str

    def metrics(self) -> Metrics:
        """The weight's `metrics` section."""
        return Metrics(
            name=self.metric_name, value=self.value, loss=self.loss, correct=self.correct
        )


@dataclass(frozen=True)
class DataDescription:
    """What the table records of a DataModule besides the measurement itself."""

    name: str
    files_md5: dict[str, str] | None
    license: str
    preprocessing: Preprocessing
    categories: tuple[str, ...] | None


def default_datamodule(model: str) -> tuple[str, dict[str, Any]]:
    """The DataModule class name and arguments a model's published weights are measured with."""
    info = model_info(model)
    if info.dataset == "toy":
        regression = issubclass(info.cls, Regressor)
        return ("LinearToyDataModule" if regression else "LogisticToyDataModule"), {}
    name = DEFAULT_DATAMODULES.get(info.dataset)
    if name is None:
        raise WeightError(f"no default DataModule for dataset {info.dataset!r}; pass datamodule=")
    return name, (
        {"eval_batch_size": 1000} if issubclass(DATAMODULES[name], ImageDataModule) else {}
    )


def make_datamodule(
    name: str, init_args: dict[str, Any], data_dir: str | Path | None = None
) -> L.LightningDataModule:
    """Build a zoo DataModule by class name (only zoo's own DataModules are allowed)."""
    cls = DATAMODULES.get(name)
    if cls is None:
        raise WeightError(f"unknown DataModule {name!r}; choose one of: {', '.join(DATAMODULES)}")
    args = dict(init_args)
    check_data_dir(data_dir)
    if data_dir is not None and issubclass(cls, ImageDataModule):
        args["data_dir"] = str(data_dir)
    try:
        return cls(**args)
    except TypeError as err:
        raise WeightError(f"{name} does not take the arguments {args}: {err}") from None


def check_data_dir(data_dir: str | Path | None) -> None:
    """Raise `WeightError` for a `--data-dir` that exists but is no folder (a missing one is
    created when the dataset is downloaded into it)."""
    if data_dir is not None and Path(data_dir).exists() and not Path(data_dir).is_dir():
        raise WeightError(
            f"--data-dir {data_dir} is a file, not a folder",
            "give the folder the datasets are kept in, or leave --data-dir out",
        )


def datamodule_for(weight: Weight, data_dir: str | Path | None = None) -> L.LightningDataModule:
    """The DataModule a published weight was measured on."""
    return make_datamodule(weight.dataset.datamodule, weight.dataset.init_args, data_dir)


def split_sha256(tensors: tuple[Tensor, ...]) -> str:
    """A SHA-256 over the dtype, shape and bytes of each tensor of a split."""
    digest = hashlib.sha256()
    for tensor in tensors:
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def _test_loader(datamodule: L.LightningDataModule) -> TensorBatchLoader:
    datamodule.prepare_data()
    datamodule.setup("test")
    loader = datamodule.test_dataloader()
    if not isinstance(loader, TensorBatchLoader):
        raise WeightError(f"{type(datamodule).__name__} is not a zoo DataModule")
    return loader


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # Lightning's banners ("GPU available: …") would interleave with `zoo eval`'s own output.
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*LeafSpec.*")
            yield
    finally:
        logger.setLevel(level)


def evaluate(model: ZooModule, datamodule: L.LightningDataModule) -> Evaluation:
    """Test `model` on `datamodule`'s test split: one CPU, float32, eval mode, fixed batches."""
    loader = _test_loader(datamodule)
    samples = len(loader.tensors[0])
    was_training = model.training
    model = model.float()
    with _quiet():
        trainer = L.Trainer(
            accelerator="cpu",
            devices=1,
            precision="32-true",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        (result,) = trainer.test(model, datamodule=datamodule, verbose=False)
    model.train(was_training)
    name = model.metric_name
    value, correct = float(result[f"test/{name}"]), None
    if name == "acc":
        correct = round(value * samples)
        value = correct / samples
    else:
        value = round_significant(value)
    return Evaluation(
        metric_name=name,
        value=value,
        loss=round_significant(float(result["test/loss"])),
        correct=correct,
        samples=samples,
        batch_size=loader.batch_size,
        test_sha256=split_sha256(loader.tensors),
    )


def round_significant(value: float) -> float:
    """`value` rounded to the table's number of significant digits."""
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def matches(evaluation: Evaluation, weight: Weight) -> list[str]:
    """How a fresh evaluation differs from what the table records (empty: it reproduces)."""
    recorded, dataset = weight.metrics, weight.dataset
    problems = []
    if evaluation.test_sha256 != dataset.test_sha256:
        problems.append("the test split differs from the one the weight was measured on")
    if evaluation.samples != dataset.samples:
        problems.append(f"{evaluation.samples} test samples, recorded {dataset.samples}")
    if recorded.correct is not None and evaluation.correct != recorded.correct:
        problems.append(f"{evaluation.correct} correct, recorded {recorded.correct}")
    for what, got, want in (
        (recorded.name, evaluation.value, recorded.value),
        ("loss", evaluation.loss, recorded.loss),
    ):
        if not math.isclose(got, want, rel_tol=REL_TOLERANCE, abs_tol=1e-12):
            problems.append(f"{what} {got:.6g}, recorded {want:.6g}")
    return problems


def describe_data(datamodule: L.LightningDataModule, model: ZooModule) -> DataDescription:
    """The dataset's name and licence, the preprocessing and the categories, for the table."""
    categories: tuple[str, ...] | None
    if isinstance(datamodule, ImageDataModule):
        name = datamodule.name
        preprocessing = Preprocessing(
            input_shape=tuple(datamodule.input_shape),
            dtype="float32",
            mean=tuple(datamodule.mean),
            std=tuple(datamodule.std),
            formula="x = (uint8 pixels / 255 - mean) / std, per channel",
        )
        categories = tuple(datamodule.classes)
    elif isinstance(datamodule, TabularDataModule):
        name = datamodule.name
        datamodule.setup()
        preprocessing = Preprocessing(
            input_shape=(datamodule.in_features,),
            dtype="float32",
            mean=tuple(round_significant(v) for v in datamodule.feature_mean.tolist()),
            std=tuple(round_significant(v) for v in datamodule.feature_std.tolist()),
            formula="x = (features - mean) / std, with the training split's statistics",
        )
        categories = ("malignant", "benign") if name == "breast_cancer" else ("0", "1")
    elif isinstance(datamodule, ToyDataModule):
        linear = isinstance(datamodule, LinearToyDataModule)
        name = "course_toy_linear" if linear else "course_toy_logistic"
        preprocessing = Preprocessing(
            input_shape=(1,), dtype="float32", formula="x as is (hours studied), shape (N, 1)"
        )
        categories = None if isinstance(model, Regressor) else ("fail", "pass")
    else:
        raise WeightError(f"{type(datamodule).__name__} is not a zoo DataModule")
    md5 = getattr(type(datamodule), "md5", None)
    return DataDescription(
        name=name,
        files_md5=dict(md5) if md5 else None,
        license=DATA_LICENSES.get(name, "the course's three example points"),
        preprocessing=preprocessing,
        categories=categories,
    )


def hardware() -> str:
    """This machine in words: the CUDA device if any, else the CPU model and its core count."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA)"
    return cpu_name()
