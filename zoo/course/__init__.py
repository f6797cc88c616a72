"""Course companion for lectures 2-4 of PyTorch深度学习实践, before any ``nn.Module``.

* Lecture 2 · 线性模型 (Linear Model): :mod:`zoo.course.lecture2`, exhaustive search.
* Lecture 3 · 梯度下降算法 (Gradient Descent): :mod:`zoo.course.lecture3`, batch GD and SGD.
* Lecture 4 · 反向传播 (Back Propagation): :mod:`zoo.course.lecture4`, autograd.

Plots live in :mod:`zoo.course.plots`; ``zoo course lectureN`` (:mod:`zoo.course.cli`)
runs a lecture from the command line.
"""

from zoo.course.lecture2 import X_DATA, Y_DATA, SearchResult, exhaustive_search, mse, weight_grid
from zoo.course.lecture3 import (
    SweepRun,
    TrainResult,
    batch_gradient_descent,
    cost,
    ewma,
    gradient,
    has_diverged,
    learning_rate_sweep,
    sample_gradient,
    stochastic_gradient_descent,
)
from zoo.course.lecture4 import (
    LinearFit,
    QuadraticFit,
    autograd_gradient,
    hand_gradient,
    quadratic_autograd_gradients,
    quadratic_hand_gradients,
    train_linear,
    train_quadratic,
)
from zoo.course.plots import plot_cost_curves, plot_lr_sweep, plot_mse_vs_w

__all__ = [
    "X_DATA",
    "Y_DATA",
    "LinearFit",
    "QuadraticFit",
    "SearchResult",
    "SweepRun",
    "TrainResult",
    "autograd_gradient",
    "batch_gradient_descent",
    "cost",
    "ewma",
    "exhaustive_search",
    "gradient",
    "hand_gradient",
    "has_diverged",
    "learning_rate_sweep",
    "mse",
    "plot_cost_curves",
    "plot_lr_sweep",
    "plot_mse_vs_w",
    "quadratic_autograd_gradients",
    "quadratic_hand_gradients",
    "sample_gradient",
    "stochastic_gradient_descent",
    "train_linear",
    "train_quadratic",
    "weight_grid",
]
