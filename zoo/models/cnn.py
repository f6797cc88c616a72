"""Lecture 10 (卷积神经网络基础篇, CNN basics): two conv + max-pool stages and one linear layer."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from zoo.models.base import ImageClassifier


class CNNMNIST(ImageClassifier):
    """Lecture 10: conv 1→10 k5, pool, conv 10→20 k5, pool, fc 320→10."""

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.pooling = nn.MaxPool2d(2)
        self.fc = nn.Linear(320, self.num_classes)

    def forward(self, x: Tensor) -> Tensor:  # x: (N, 1, 28, 28)
        x = F.relu(self.pooling(self.conv1(x)))  # (N, 10, 12, 12)
        x = F.relu(self.pooling(self.conv2(x)))  # (N, 20, 4, 4)
        return self.fc(x.flatten(1))  # (N, 320) → (N, num_classes)


class CNNCIFAR(ImageClassifier):
    """The lecture-10 CNN for 3×32×32 CIFAR-10 images: the same layers, 3 input channels."""

    input_shape = (3, 32, 32)
    dataset = "CIFAR-10"

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.conv1 = nn.Conv2d(3, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.pooling = nn.MaxPool2d(2)
        self.fc = nn.Linear(500, self.num_classes)

    def forward(self, x: Tensor) -> Tensor:  # x: (N, 3, 32, 32)
        x = F.relu(self.pooling(self.conv1(x)))  # (N, 10, 14, 14)
        x = F.relu(self.pooling(self.conv2(x)))  # (N, 20, 5, 5)
        return self.fc(x.flatten(1))  # (N, 500) → (N, num_classes)
