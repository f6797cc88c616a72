"""Lectures 7–8 (处理多维特征的输入 / 加载数据集): tabular data for binary classification.

Offline by default: scikit-learn's bundled Wisconsin breast-cancer set (569 samples, 30 features,
label 1 = benign), which ships inside the sklearn package. `csv_path=` reads a file in the
course's diabetes layout instead: comma-separated numbers without a header, the features first
and the 0/1 label last, optionally gzip-compressed (`diabetes.csv.gz`).
"""

from __future__ import annotations

import csv
import gzip
import math
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from zoo.data.base import TensorDataModule
from zoo.errors import BadInput

Split = tuple[Tensor, Tensor]


def load_breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled breast-cancer data: features (569, 30) and labels (569,)."""
    # Imported here: scikit-learn takes a noticeable time to import and only this path needs it.
    from sklearn.datasets import load_breast_cancer as sklearn_breast_cancer

    data = sklearn_breast_cancer()
    return data.data, data.target.astype(np.float64)


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", newline="") as file:
            return [
                (line, row)
                for line, row in enumerate(csv.reader(file), start=1)
                if any(cell.strip() for cell in row)
            ]
    except (EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError) as err:
        kind = "gzip-compressed CSV" if path.suffix == ".gz" else "text CSV"
        raise ValueError(f"{path} could not be read as a {kind}: {err}") from err


def _parse_number(path: Path, line: int, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(
            f"{path}, line {line}: {cell.strip()!r} is not a number; the file must hold only "
            "numbers, without a header row"
        ) from None
    if not math.isfinite(value):
        raise ValueError(f"{path}, line {line}: {cell.strip()!r} is not a finite number")
    return value


def read_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a headerless CSV of features followed by a 0/1 label: (features (N, F), labels (N,)).

    Raises `FileNotFoundError` for a missing file and `ValueError` (naming the file and line) for
    ragged rows, non-numeric cells or labels other than 0 and 1.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: pass csv_path= a CSV in the course's diabetes layout "
            "(e.g. diabetes.csv.gz), or leave it out to use the bundled breast-cancer data"
        )
    rows = _read_rows(path)
    if not rows:
        raise ValueError(f"{path} holds no data rows")
    first_line, first = rows[0]
    width = len(first)
    if width < 2:
        raise ValueError(f"{path}, line {first_line}: need at least one feature and the label")
    values = []
    for line, row in rows:
        if len(row) != width:
            raise ValueError(
                f"{path}, line {line}: {len(row)} columns, but line {first_line} has {width}; "
                "every row needs the same features followed by the 0/1 label"
            )
        values.append([_parse_number(path, line, cell) for cell in row])
    table = np.asarray(values, dtype=np.float64)
    labels = table[:, -1]
    bad = ~np.isin(labels, (0.0, 1.0))
    if bad.any():
        index = int(np.argmax(bad))
        raise ValueError(
            f"{path}, line {rows[index][0]}: the last column is the label and must be 0 or 1, "
            f"got {labels[index]:g}"
        )
    return table[:, :-1], labels


class TabularDataModule(TensorDataModule):
    """Seeded train/val/test splits of a tabular binary dataset, standardised by train statistics.

    Batches are `(features float32 (N, F), labels float32 (N,))`.

    Args:
        csv_path: a CSV in the course's diabetes layout (plain or `.gz`); default: the bundled
            breast-cancer data.
        batch_size: training batch size per device.
        eval_batch_size: batch size for validation, test and predict.
        val_fraction: share of the samples held out for validation.
        test_fraction: share of the samples held out for testing.
        seed: seeds the split and the shuffling.
    """

    def __init__(
        self,
        csv_path: str | Path | None = None,
        batch_size: int = 32,
        eval_batch_size: int = 1024,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, seed)
        for option, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0 <= fraction < 1:
                raise BadInput(f"--data.{option} {fraction}: must be at least 0 and below 1",
                               f"pass e.g. --data.{option} 0.1")  # fmt: skip
        if val_fraction + test_fraction >= 1:
            raise BadInput(
                f"--data.val_fraction {val_fraction} and --data.test_fraction {test_fraction} "
                "leave nothing to train on",
                "make them add up to less than 1 (the defaults are 0.1 and 0.2)",
            )
        self.csv_path = Path(csv_path).expanduser() if csv_path else None
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.feature_mean: Tensor | None = None
        self.feature_std: Tensor | None = None
        self._raw: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def name(self) -> str:
        """ "breast_cancer", or the CSV file's name without its suffixes."""
        if self.csv_path is None:
            return "breast_cancer"
        return self.csv_path.name.split(".")[0]

    def load_raw(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole dataset, unsplit and unstandardised: (features (N, F), labels (N,))."""
        if self._raw is None:
            self._raw = load_breast_cancer() if self.csv_path is None else read_csv(self.csv_path)
        return self._raw

    @property
    def in_features(self) -> int:
        """The number of features per sample (reads the data if `setup` has not yet)."""
        return self.load_raw()[0].shape[1]

    def split_sizes(self) -> dict[str, int]:
        """How many samples go to train, val and test."""
        n = len(self.load_raw()[1])
        val, test = round(n * self.val_fraction), round(n * self.test_fraction)
        if n - val - test < 1:
            raise ValueError(f"{n} samples leave none for training after val and test")
        return {"train": n - val - test, "val": val, "test": test}

    def setup(self, stage: str | None = None) -> None:
        """Split with the seed and standardise with train statistics (once; later calls no-op)."""
        if self.splits:
            return
        features, labels = self.load_raw()
        sizes = self.split_sizes()
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(self.seed))
        x = torch.from_numpy(features)
        y = torch.from_numpy(labels).float()
        train_idx, val_idx, test_idx = order.split([sizes["train"], sizes["val"], sizes["test"]])
        train_x = x[train_idx]
        mean, std = train_x.mean(0), train_x.std(0, correction=0)
        # A feature that is constant in training carries no information: leave it at zero.
        std = torch.where(std > 0, std, torch.ones_like(std))
        self.feature_mean, self.feature_std = mean.float(), std.float()
        self.splits = {
            name: (((x[idx] - mean) / std).float(), y[idx])
            for name, idx in (("train", train_idx), ("val", val_idx), ("test", test_idx))
        }
