"""Training reports as PNG files: learning curves, confusion matrices, sample predictions.

Figures are drawn on matplotlib's Agg canvas without `pyplot`, so they need no display and leave
the global matplotlib state alone (safe inside a training process).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

from zoo.course.lecture3 import ewma
from zoo.files import save_figure

Curve = Sequence[tuple[float, float]]
"""(x, value) points of one metric, e.g. (epoch, val/acc)."""


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_curves(
    panels: Mapping[str, Mapping[str, Curve]],
    path: str | Path,
    beta: float = 0.6,
    title: str = "",
    xlabel: str = "epoch",
    smoothed: Collection[str] = (),
) -> Path:
    """One panel per entry of `panels` (e.g. "loss", "accuracy"), one line per named curve.

    The curves named in `smoothed` are noisy per-step series: each is drawn raw (thin, faint)
    with its exponentially weighted moving average (`zoo.course.lecture3.ewma`, weight `beta` on
    the past) bold on top, as the course does for SGD's cost. Every other curve is one point per
    epoch and is drawn as it is, with markers: smoothing those would show a value the model never
    had. Empty curves are skipped. Returns the PNG path.
    """
    fig = _new_figure(5.2 * max(len(panels), 1), 4.2)
    axes = fig.subplots(1, max(len(panels), 1), squeeze=False)[0]
    for ax, (ylabel, curves) in zip(axes, panels.items(), strict=False):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        for name, points in curves.items():
            if points:
                _plot_curve(ax, name, points, beta if name in smoothed else None)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def _plot_curve(ax: Axes, name: str, points: Curve, beta: float | None) -> None:
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    if beta is None:
        ax.plot(xs, ys, linewidth=2, marker="o", markersize=4, label=f"{name} (per epoch)")
        return
    (raw,) = ax.plot(xs, ys, alpha=0.3, linewidth=1, label=f"{name} (each step)")
    ax.plot(
        xs, ewma(ys, beta), color=raw.get_color(), linewidth=2, label=f"{name} (EWMA β={beta:g})"
    )


def confusion_matrix(preds: Tensor, targets: Tensor, num_classes: int) -> Tensor:
    """Counts (int64, num_classes × num_classes): row = true class, column = predicted class."""
    index = targets.long().flatten() * num_classes + preds.long().flatten()
    counts = torch.bincount(index.cpu(), minlength=num_classes * num_classes)
    return counts.view(num_classes, num_classes)


def plot_confusion_matrix(
    matrix: Tensor, classes: Sequence[str], path: str | Path, title: str = "confusion matrix"
) -> Path:
    """The counts as a heat map, each cell annotated, rows = true, columns = predicted."""
    matrix = matrix.detach().cpu().long()
    n = len(classes)
    size = min(3.0 + 0.55 * n, 12.0)
    fig = _new_figure(size + 1.0, size)
    ax = fig.add_subplot()
    image = ax.imshow(matrix.numpy(), cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize="small")
    ax.set_yticks(range(n), classes, fontsize="small")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = int(matrix.sum())
    accuracy = int(matrix.diagonal().sum()) / total if total else 0.0
    ax.set_title(f"{title} (accuracy {accuracy:.2%}, n={total})")
    if n <= 20:
        threshold = matrix.max().item() / 2
        for i in range(n):
            for j in range(n):
                value = int(matrix[i, j])
                color = "white" if value > threshold else "black"
                ax.text(j, i, str(value), ha="center", va="center", color=color, fontsize=7)
    return save_figure(fig, path)


def plot_prediction_grid(
    images: Tensor,
    preds: Sequence[int],
    targets: Sequence[int],
    classes: Sequence[str],
    path: str | Path,
    columns: int = 8,
) -> Path:
    """Images (float in [0, 1], (N, C, H, W)) labelled "pred / true", wrong ones in red.

    The images are tiled into one mosaic drawn by a single `imshow` (one axes per image would
    make the layout engine the slowest part of a short run).
    """
    n, _, h, w = images.shape
    rows = max((n + columns - 1) // columns, 1)
    pad_x, pad_y = 4, 14  # room between tiles, and above each for its label
    mosaic = torch.ones(3, rows * (h + pad_y), columns * (w + pad_x))
    tiles = images.detach().cpu().float().clamp(0, 1).expand(n, 3, h, w)
    for k in range(n):
        top, left = (k // columns) * (h + pad_y) + pad_y, (k % columns) * (w + pad_x)
        mosaic[:, top : top + h, left : left + w] = tiles[k]
    scale = 1.6 / max(h, 28)
    fig = _new_figure(columns * (w + pad_x) * scale / 1.2, rows * (h + pad_y) * scale / 1.2 + 0.3)
    ax = fig.add_subplot()
    ax.imshow(mosaic.permute(1, 2, 0).numpy(), interpolation="nearest")
    ax.set_axis_off()
    for k in range(n):
        pred, true = int(preds[k]), int(targets[k])
        x = (k % columns) * (w + pad_x) + w / 2
        y = (k // columns) * (h + pad_y) + pad_y - 2
        color = "tab:green" if pred == true else "tab:red"
        label = f"{classes[pred]} / {classes[true]}"
        ax.text(x, y, label, ha="center", va="bottom", fontsize=6, color=color)
    ax.set_title("predicted / true", fontsize=8)
    return save_figure(fig, path)
