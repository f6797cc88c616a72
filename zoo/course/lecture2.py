"""Lecture 2 · 线性模型 (Linear Model).

The course fits ``y = w * x`` to three points without any calculus: try every ``w`` on a
grid, compute the mean squared error (MSE) of each, and keep the one with the smallest
error. Plotting MSE against ``w`` shows the bowl shape that lecture 3 then descends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

X_DATA: list[float] = [1.0, 2.0, 3.0]
Y_DATA: list[float] = [2.0, 4.0, 6.0]


def forward(x: float, w: float) -> float:
    """Predict ``y_hat = x * w``."""
    return x * w


def loss(x: float, y: float, w: float) -> float:
    """Squared error of one sample: ``(y_hat - y) ** 2``."""
    y_hat = forward(x, w)
    return (y_hat - y) * (y_hat - y)


def mse(w: float, xs: Sequence[float] = X_DATA, ys: Sequence[float] = Y_DATA) -> float:
    """Mean squared error of ``w`` over the whole data set."""
    return sum(loss(x, y, w) for x, y in zip(xs, ys, strict=True)) / len(xs)


def weight_grid(start: float = 0.0, stop: float = 4.0, step: float = 0.1) -> list[float]:
    """Evenly spaced ``w`` values from ``start`` to ``stop`` inclusive.

    Each value is computed from its index and rounded, instead of adding ``step`` again
    and again, so the grid holds exactly ``2.0`` rather than ``2.0000000000000004``.
    """
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    count = round((stop - start) / step)
    return [round(start + i * step, 10) for i in range(count + 1)]


@dataclass
class SearchResult:
    """Every ``w`` that was tried, its MSE, and the best one."""

    weights: list[float]
    mses: list[float]
    best_w: float
    best_mse: float

    def predict(self, x: float) -> float:
        """Predict ``y`` for ``x`` with the best ``w``."""
        return forward(x, self.best_w)


def exhaustive_search(
    xs: Sequence[float] = X_DATA,
    ys: Sequence[float] = Y_DATA,
    start: float = 0.0,
    stop: float = 4.0,
    step: float = 0.1,
) -> SearchResult:
    """Try every ``w`` in the grid and keep the one with the smallest MSE."""
    weights = weight_grid(start, stop, step)
    mses = [mse(w, xs, ys) for w in weights]
    best = min(range(len(weights)), key=lambda i: mses[i])
    return SearchResult(weights=weights, mses=mses, best_w=weights[best], best_mse=mses[best])
