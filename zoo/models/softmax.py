"""Lecture 9 (多分类问题, softmax classifier): a 5-layer fully connected net on MNIST."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from zoo.models.base import ImageClassifier


class SoftmaxMNIST(ImageClassifier):
    """Lecture 9: 784 → 512 → 256 → 128 → 64 → 10 with ReLU; softmax lives in the loss."""

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.l1 = nn.Linear(784, 512)
        self.l2 = nn.Linear(512, 256)
        self.l3 = nn.Linear(256, 128)
        self.l4 = nn.Linear(128, 64)
        self.l5 = nn.Linear(64, self.num_classes)

    def forward(self, x: Tensor) -> Tensor:  # x: (N, 1, 28, 28)
        x = x.flatten(1)  # (N, 784)
        x = F.relu(self.l1(x))
        x = F.relu(self.l2(x))
        x = F.relu(self.l3(x))
        x = F.relu(self.l4(x))
        return self.l5(x)  # (N, num_classes) logits
