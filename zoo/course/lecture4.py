"""Lecture 4 · 反向传播 (Back Propagation).

Deriving gradients by hand stops being practical once a model has more than a few
parameters. PyTorch records every operation on a tensor created with
``requires_grad=True`` and ``backward()`` walks that graph back, applying the chain rule,
to fill ``w.grad``. The lecture's update loop is::

    l = loss(x, y)
    l.backward()
    w.data -= lr * w.grad.data   # .data: the update itself must not be recorded
    w.grad.data.zero_()          # backward() adds to .grad, so clear it after each step

The same loop then fits the quadratic ``y = w1 * x**2 + w2 * x + b``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from zoo.course.lecture2 import X_DATA, Y_DATA
from zoo.course.lecture3 import sample_gradient


def forward(x: float, w: torch.Tensor) -> torch.Tensor:
    """Predict ``y_hat = x * w``; ``x * w`` is recorded because ``w`` requires grad."""
    return x * w


def loss(x: float, y: float, w: torch.Tensor) -> torch.Tensor:
    """Squared error of one sample, as a tensor that ``backward()`` can start from."""
    return (forward(x, w) - y) ** 2


def autograd_gradient(x: float, y: float, w: float) -> float:
    """``d(loss)/dw`` of one sample at ``w``, computed by ``backward()``."""
    w_tensor = torch.tensor([w], requires_grad=True)
    loss(x, y, w_tensor).backward()
    return w_tensor.grad.item()


def hand_gradient(x: float, y: float, w: float) -> float:
    """``d(loss)/dw = 2 * x * (x * w - y)``, the formula derived by hand in lecture 3."""
    return sample_gradient(x, y, w)


@dataclass
class LinearFit:
    """The learned ``w`` of ``y = w * x`` and the mean sample loss of each epoch."""

    w: float
    losses: list[float]

    def predict(self, x: float) -> float:
        """Predict ``y`` for ``x`` with the learned ``w``."""
        return x * self.w


def train_linear(
    xs: Sequence[float] = X_DATA,
    ys: Sequence[float] = Y_DATA,
    w: float = 1.0,
    lr: float = 0.01,
    epochs: int = 100,
) -> LinearFit:
    """Fit ``y = w * x`` sample by sample, with autograd computing each gradient."""
    weight = torch.tensor([w], requires_grad=True)
    losses = []
    for _ in range(epochs):
        epoch_loss = 0.0
        for x, y in zip(xs, ys, strict=True):
            sample_loss = loss(x, y, weight)
            sample_loss.backward()
            weight.data -= lr * weight.grad.data
            weight.grad.data.zero_()
            epoch_loss += sample_loss.item()
        losses.append(epoch_loss / len(xs))
    return LinearFit(w=weight.item(), losses=losses)


def quadratic_forward(
    x: float, w1: torch.Tensor, w2: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    """Predict ``y_hat = w1 * x**2 + w2 * x + b``."""
    return w1 * x**2 + w2 * x + b


def quadratic_loss(
    x: float, y: float, w1: torch.Tensor, w2: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    """Squared error of one sample under the quadratic model."""
    return (quadratic_forward(x, w1, w2, b) - y) ** 2


def quadratic_autograd_gradients(
    x: float, y: float, w1: float, w2: float, b: float
) -> tuple[float, float, float]:
    """``(dl/dw1, dl/dw2, dl/db)`` of one sample, computed by ``backward()``."""
    params = [torch.tensor([value], requires_grad=True) for value in (w1, w2, b)]
    quadratic_loss(x, y, *params).backward()
    grad_w1, grad_w2, grad_b = (p.grad.item() for p in params)
    return grad_w1, grad_w2, grad_b


def quadratic_hand_gradients(
    x: float, y: float, w1: float, w2: float, b: float
) -> tuple[float, float, float]:
    """The chain rule by hand: with ``r = y_hat - y``, ``(2r * x**2, 2r * x, 2r)``."""
    residual = w1 * x * x + w2 * x + b - y
    return 2 * residual * x * x, 2 * residual * x, 2 * residual


@dataclass
class QuadraticFit:
    """The learned ``w1, w2, b`` and the mean sample loss of each epoch."""

    w1: float
    w2: float
    b: float
    losses: list[float]

    def predict(self, x: float) -> float:
        """Predict ``y`` for ``x`` with the learned parameters."""
        return self.w1 * x * x + self.w2 * x + self.b


def train_quadratic(
    xs: Sequence[float] = X_DATA,
    ys: Sequence[float] = Y_DATA,
    w1: float = 1.0,
    w2: float = 1.0,
    b: float = 1.0,
    lr: float = 0.01,
    epochs: int = 100,
) -> QuadraticFit:
    """Fit ``y = w1 * x**2 + w2 * x + b`` sample by sample with autograd.

    The three points lie on ``y = 2x`` exactly, so the best fit is ``w1 = 0, w2 = 2,
    b = 0``. The ``x**2`` feature is much larger than the others, which makes the cost a
    long narrow valley: the loss drops fast, the parameters reach that fit slowly.
    """
    params = [torch.tensor([value], requires_grad=True) for value in (w1, w2, b)]
    losses = []
    for _ in range(epochs):
        epoch_loss = 0.0
        for x, y in zip(xs, ys, strict=True):
            sample_loss = quadratic_loss(x, y, *params)
            sample_loss.backward()
            for p in params:
                p.data -= lr * p.grad.data
                p.grad.data.zero_()
            epoch_loss += sample_loss.item()
        losses.append(epoch_loss / len(xs))
    fitted_w1, fitted_w2, fitted_b = (p.item() for p in params)
    return QuadraticFit(w1=fitted_w1, w2=fitted_w2, b=fitted_b, losses=losses)
