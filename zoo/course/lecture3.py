"""Lecture 3 · 梯度下降算法 (Gradient Descent).

Exhaustive search does not scale past one or two parameters, so the course follows the
slope instead: ``w <- w - lr * d(cost)/dw``.

* Batch gradient descent uses the gradient of the cost over the whole data set.
* Stochastic gradient descent (SGD) updates after every single sample. Its noise can
  carry it out of a flat saddle point, where the batch gradient is zero and GD stalls.
  Local minima are rarely the problem in deep networks; saddle points are.

The learning rate matters: too small and training crawls, too large and every step
overshoots the minimum further than the last one, so the cost grows without bound.
Cost curves are smoothed with an exponentially weighted moving average so the trend
reads clearly through the noise of SGD.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from zoo.course.lecture2 import X_DATA, Y_DATA, forward


def cost(xs: Sequence[float], ys: Sequence[float], w: float) -> float:
    """Mean squared error over the data set (the lecture's ``cost``)."""
    total = 0.0
    for x, y in zip(xs, ys, strict=True):
        error = forward(x, w) - y
        total += error * error
    return total / len(xs)


def gradient(xs: Sequence[float], ys: Sequence[float], w: float) -> float:
    """``d(cost)/dw = mean(2 * x * (x * w - y))`` over the data set."""
    total = 0.0
    for x, y in zip(xs, ys, strict=True):
        total += sample_gradient(x, y, w)
    return total / len(xs)


def sample_gradient(x: float, y: float, w: float) -> float:
    """Gradient of one sample's loss ``(x * w - y) ** 2``: ``2 * x * (x * w - y)``."""
    return 2 * x * (x * w - y)


@dataclass
class TrainResult:
    """The learned ``w`` and the cost curve.

    ``costs[0]`` is the cost at the starting ``w``; ``costs[i]`` the cost after epoch ``i``.
    """

    w: float
    costs: list[float]

    def predict(self, x: float) -> float:
        """Predict ``y`` for ``x`` with the learned ``w``."""
        return forward(x, self.w)


def batch_gradient_descent(
    xs: Sequence[float] = X_DATA,
    ys: Sequence[float] = Y_DATA,
    w: float = 1.0,
    lr: float = 0.01,
    epochs: int = 100,
) -> TrainResult:
    """One update per epoch, using the gradient of the cost over all samples."""
    costs = [cost(xs, ys, w)]
    for _ in range(epochs):
        w -= lr * gradient(xs, ys, w)
        epoch_cost = cost(xs, ys, w)
        # A run that has overflowed has nothing more to show, and inf would break the plot.
        if not math.isfinite(epoch_cost):
            break
        costs.append(epoch_cost)
    return TrainResult(w=w, costs=costs)


def stochastic_gradient_descent(
    xs: Sequence[float] = X_DATA,
    ys: Sequence[float] = Y_DATA,
    w: float = 1.0,
    lr: float = 0.01,
    epochs: int = 100,
    seed: int | None = None,
) -> TrainResult:
    """One update per sample.

    With ``seed=None`` the samples are visited in order, as in the lecture; with a seed
    they are shuffled every epoch by a private random generator, so runs are repeatable.
    """
    rng = random.Random(seed)
    order = list(range(len(xs)))
    costs = [cost(xs, ys, w)]
    for _ in range(epochs):
        if seed is not None:
            rng.shuffle(order)
        for i in order:
            w -= lr * sample_gradient(xs[i], ys[i], w)
        epoch_cost = cost(xs, ys, w)
        if not math.isfinite(epoch_cost):
            break
        costs.append(epoch_cost)
    return TrainResult(w=w, costs=costs)


def ewma(values: Sequence[float], beta: float = 0.9) -> list[float]:
    """Exponentially weighted moving average: ``s[i] = beta * s[i-1] + (1 - beta) * v[i]``.

    ``beta`` is how much of the past is kept. The average starts at the first value
    (``s[0] = v[0]``), so the curve is not dragged towards zero at the start.
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    smoothed: list[float] = []
    for value in values:
        if smoothed:
            smoothed.append(beta * smoothed[-1] + (1 - beta) * value)
        else:
            smoothed.append(value)
    return smoothed


def has_diverged(costs: Sequence[float], epochs: int) -> bool:
    """True if the run stopped early on overflow or ended with a higher cost than it began."""
    stopped_early = len(costs) < epochs + 1
    return stopped_early or costs[-1] > costs[0]


@dataclass
class SweepRun:
    """One learning rate of a sweep: its cost curve and whether it diverged."""

    lr: float
    costs: list[float]
    diverged: bool


def learning_rate_sweep(
    lrs: Sequence[float] = (0.01, 0.05, 0.1, 0.2, 0.25, 0.3),
    xs: Sequence[float] = X_DATA,
    ys: Sequence[float] = Y_DATA,
    w: float = 1.0,
    epochs: int = 50,
) -> list[SweepRun]:
    """Run batch gradient descent once per learning rate, from the same start.

    For this data the cost's curvature is ``2 * mean(x**2) = 28 / 3``, so any rate above
    ``2 / (28 / 3) ≈ 0.214`` overshoots more each step and diverges.
    """
    runs = []
    for lr in lrs:
        result = batch_gradient_descent(xs, ys, w=w, lr=lr, epochs=epochs)
        diverged = has_diverged(result.costs, epochs)
        runs.append(SweepRun(lr=lr, costs=result.costs, diverged=diverged))
    return runs
