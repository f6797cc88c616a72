"""Lectures 5–6 (用PyTorch实现线性回归 / 逻辑斯蒂回归): one `Linear(1, 1)`.

Linear regression fits y = w·x + b with MSE; logistic regression passes the same affine map
through a sigmoid to give P(pass | hours studied).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from zoo.models.base import BinaryClassifier, Regressor


class LinearRegression(Regressor):
    """Lecture 5: ŷ = w·x + b, trained with MSE and SGD."""

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.linear = nn.Linear(1, 1)

    def forward(self, x: Tensor) -> Tensor:  # x: (N, 1)
        return self.linear(x)


class LogisticRegression(BinaryClassifier):
    """Lecture 6: P(y=1 | x) = sigmoid(w·x + b); `forward` returns the logit w·x + b."""

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.linear = nn.Linear(1, 1)

    def forward(self, x: Tensor) -> Tensor:  # x: (N, 1)
        return self.linear(x)
