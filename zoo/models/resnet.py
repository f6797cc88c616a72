"""Lecture 11 (卷积神经网络高级篇): residual networks.

He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition" (CVPR 2016). The course's
MNIST net adds two residual blocks to the lecture-10 CNN; `ResNetCIFAR` is the paper's §4.2
CIFAR-10 family (depth 6n+2: 20, 32, 44, 56, 110).
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from zoo.models.base import ImageClassifier


class ResidualBlock(nn.Module):
    """The course's block: relu(x + conv(relu(conv(x)))), channels and size unchanged."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x: Tensor) -> Tensor:  # x: (N, C, H, W)
        y = F.relu(self.conv1(x))
        y = self.conv2(y)
        return F.relu(x + y)


class ResNetMNIST(ImageClassifier):
    """Lecture 11: conv 1→16, pool, ResidualBlock(16), conv 16→32, pool, ResidualBlock(32), fc."""

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.conv1 = nn.Conv2d(1, 16, kernel_size=5)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=5)
        self.mp = nn.MaxPool2d(2)
        self.rblock1 = ResidualBlock(16)
        self.rblock2 = ResidualBlock(32)
        self.fc = nn.Linear(512, self.num_classes)

    def forward(self, x: Tensor) -> Tensor:  # x: (N, 1, 28, 28)
        # The course writes mp(relu(conv(x))); ReLU and max-pooling commute (both monotonic),
        # so pooling first gives the same values and gradients with a quarter of the ReLU work.
        x = F.relu(self.mp(self.conv1(x)))  # (N, 16, 12, 12)
        x = self.rblock1(x)
        x = F.relu(self.mp(self.conv2(x)))  # (N, 32, 4, 4)
        x = self.rblock2(x)
        return self.fc(x.flatten(1))  # (N, 512) → (N, num_classes)


class BasicBlock(nn.Module):
    """The paper's two-layer block with batch norm.

    When it halves the size and doubles the channels, the shortcut is the paper's option A: a
    stride-2 identity whose new channels are zeros, so the shortcuts add no parameters.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def shortcut(self, x: Tensor) -> Tensor:
        """Identity, subsampled and zero-padded in channels where the shape changes."""
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra_channels:
            half = self.extra_channels // 2
            x = F.pad(x, (0, 0, 0, 0, half, self.extra_channels - half))
        return x

    def forward(self, x: Tensor) -> Tensor:  # x: (N, C_in, H, W)
        y = F.relu(self.bn1(self.conv1(x)))  # (N, C_out, H / stride, W / stride)
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNetCIFAR(ImageClassifier):
    """He et al. 2016 §4.2: conv 3×3 (16), three stages of n blocks (16, 32, 64), pool, fc.

    Args:
        depth: 6n + 2 layers: 20, 32, 44, 56 or 110.
    """

    input_shape = (3, 32, 32)
    dataset = "CIFAR-10"

    def __init__(self, depth: int = 20, **hparams: Any) -> None:
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"ResNetCIFAR depth must be 6n+2 (20, 32, 44, 56, 110), got {depth}")
        super().__init__(**hparams)
        blocks = (depth - 2) // 6
        self.conv = nn.Conv2d(3, 16, kernel_size=3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.stage1 = self._stage(16, 16, blocks, stride=1)
        self.stage2 = self._stage(16, 32, blocks, stride=2)
        self.stage3 = self._stage(32, 64, blocks, stride=2)
        self.fc = nn.Linear(64, self.num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    @staticmethod
    def _stage(in_channels: int, out_channels: int, blocks: int, stride: int) -> nn.Sequential:
        first = BasicBlock(in_channels, out_channels, stride)
        rest = [BasicBlock(out_channels, out_channels) for _ in range(blocks - 1)]
        return nn.Sequential(first, *rest)

    def forward(self, x: Tensor) -> Tensor:  # x: (N, 3, 32, 32)
        x = F.relu(self.bn(self.conv(x)))  # (N, 16, 32, 32)
        x = self.stage1(x)  # (N, 16, 32, 32)
        x = self.stage2(x)  # (N, 32, 16, 16)
        x = self.stage3(x)  # (N, 64, 8, 8)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)  # (N, 64)
        return self.fc(x)  # (N, num_classes)
