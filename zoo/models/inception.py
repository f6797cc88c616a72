"""Lecture 11 (卷积神经网络高级篇, CNN advanced): the course's GoogLeNet-style Inception net.

After Szegedy et al., "Going Deeper with Convolutions" (CVPR 2015): parallel 1×1, 5×5, double
3×3 and pooled branches, concatenated along channels; 1×1 convs keep the cost down.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.models.base import ImageClassifier


class InceptionBlock(nn.Module):
    """The course's InceptionA: four branches giving 16 + 24 + 24 + 24 = 88 channels."""

    out_channels = 88

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch1x1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch5x5_1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch5x5_2 = nn.Conv2d(16, 24, kernel_size=5, padding=2)
        self.branch3x3_1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch3x3_2 = nn.Conv2d(16, 24, kernel_size=3, padding=1)
        self.branch3x3_3 = nn.Conv2d(24, 24, kernel_size=3, padding=1)
        self.branch_pool = nn.Conv2d(in_channels, 24, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:  # x: (N, C, H, W)
        branch1x1 = self.branch1x1(x)
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3 = self.branch3x3_3(self.branch3x3_2(self.branch3x3_1(x)))
        branch_pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([branch1x1, branch5x5, branch3x3, branch_pool], dim=1)  # (N, 88, H, W)


class InceptionMNIST(ImageClassifier):
    """Lecture 11: conv 1→10, Inception, conv 88→20, Inception, fc 1408→10."""

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(88, 20, kernel_size=5)
        self.incep1 = InceptionBlock(in_channels=10)
        self.incep2 = InceptionBlock(in_channels=20)
        self.mp = nn.MaxPool2d(2)
        self.fc = nn.Linear(1408, self.num_classes)

    def forward(self, x: Tensor) -> Tensor:  # x: (N, 1, 28, 28)
        x = F.relu(self.mp(self.conv1(x)))  # (N, 10, 12, 12)
        x = self.incep1(x)  # (N, 88, 12, 12)
        x = F.relu(self.mp(self.conv2(x)))  # (N, 20, 4, 4)
        x = self.incep2(x)  # (N, 88, 4, 4)
        return self.fc(x.flatten(1))  # (N, 1408) → (N, num_classes)
