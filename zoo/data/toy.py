"""Lectures 5–6 (线性回归 / 逻辑斯蒂回归): the course's three-point toy data as DataModules.

The course trains and evaluates on the same three points, so every loader serves all of them,
in one batch unless `batch_size` says otherwise.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor

from zoo.data.base import check_positive
from zoo.data.loader import TensorBatchLoader


class ToyDataModule(L.LightningDataModule):
    """Serves the same `(x, y)` tensors for training, validation, test and predict.

    Subclasses implement `make_data`.

    Args:
        batch_size: samples per batch; default: all of them (full-batch gradient descent).
        seed: seeds the shuffling of training batches when they are smaller than the data.
    """

    def __init__(self, batch_size: int | None = None, seed: int = 0) -> None:
        super().__init__()
        if batch_size is not None:
            check_positive("batch_size", batch_size)
        self.x, self.y = self.make_data()
        self.batch_size = batch_size or len(self.x)
        self.seed = seed

    def make_data(self) -> tuple[Tensor, Tensor]:
        """The (inputs, targets) tensors."""
        raise NotImplementedError

    def _loader(self, shuffle: bool = False) -> TensorBatchLoader:
        return TensorBatchLoader((self.x, self.y), self.batch_size, shuffle=shuffle, seed=self.seed)

    def train_dataloader(self) -> TensorBatchLoader:
        """All points; shuffled per epoch when split into several batches."""
        return self._loader(shuffle=self.batch_size < len(self.x))

    def val_dataloader(self) -> TensorBatchLoader:
        """All points (the course has no held-out data)."""
        return self._loader()

    def test_dataloader(self) -> TensorBatchLoader:
        """All points (the course has no held-out data)."""
        return self._loader()

    def predict_dataloader(self) -> TensorBatchLoader:
        """All points, in order."""
        return self._loader()


class LinearToyDataModule(ToyDataModule):
    """Lecture 5: x = 1, 2, 3 → y = 2, 4, 6, both float32 of shape (3, 1) like the model output."""

    def make_data(self) -> tuple[Tensor, Tensor]:
        """x = [[1], [2], [3]], y = 2x."""
        x = torch.tensor([[1.0], [2.0], [3.0]])
        return x, 2 * x


class LogisticToyDataModule(ToyDataModule):
    """Lecture 6: hours studied 1, 2, 3 → fail, fail, pass; x (3, 1), y (3,) float32 of 0/1."""

    def make_data(self) -> tuple[Tensor, Tensor]:
        """x = [[1], [2], [3]], y = [0, 0, 1]."""
        return torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([0.0, 0.0, 1.0])
