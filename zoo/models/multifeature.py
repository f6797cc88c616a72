"""Lectures 7–8 (处理多维特征的输入 / 加载数据集): a small sigmoid MLP on tabular features.

The course's diabetes network: 8 → 6 → 4 → 1 with a sigmoid after every layer. `in_features`
follows the data (30 for the bundled breast-cancer set).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from zoo.models.base import BinaryClassifier


class MultiFeatureMLP(BinaryClassifier):
    """Lectures 7–8: `in_features` → 6 → 4 → 1, sigmoid activations, one output logit."""

    def __init__(self, in_features: int = 8, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.linear1 = nn.Linear(in_features, 6)
        self.linear2 = nn.Linear(6, 4)
        self.linear3 = nn.Linear(4, 1)

    def forward(self, x: Tensor) -> Tensor:  # x: (N, in_features)
        x = torch.sigmoid(self.linear1(x))  # (N, 6)
        x = torch.sigmoid(self.linear2(x))  # (N, 4)
        return self.linear3(x)  # (N, 1) logit; the final sigmoid lives in the loss
