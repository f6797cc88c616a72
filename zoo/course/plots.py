"""Plots for lectures 2-4, written as PNG files.

Figures are drawn on matplotlib's Agg canvas directly instead of through ``pyplot``: it
never needs a display and leaves the global matplotlib backend alone. Titles and labels
are in English because matplotlib's default font has no Chinese glyphs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from zoo.course.lecture3 import SweepRun, ewma
from zoo.files import save_figure


def _new_axes(title: str, xlabel: str, ylabel: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def plot_mse_vs_w(
    weights: Sequence[float], mses: Sequence[float], best_w: float, path: str | Path
) -> Path:
    """Lecture 2: MSE against ``w``, with the best ``w`` marked. Returns the PNG path."""
    fig, ax = _new_axes("Lecture 2: exhaustive search for y = w * x", "w", "MSE")
    ax.plot(weights, mses, marker=".", label="MSE(w)")
    ax.axvline(best_w, color="tab:red", linestyle="--", label=f"best w = {best_w:g}")
    ax.legend()
    return save_figure(fig, path)


def plot_cost_curves(
    curves: Mapping[str, Sequence[float]],
    path: str | Path,
    title: str,
    ylabel: str = "cost",
    beta: float | None = 0.5,
    log_scale: bool = False,
) -> Path:
    """Cost per epoch for each named curve. Returns the PNG path.

    With ``beta`` set, each raw curve is drawn thin and faint and its EWMA-smoothed
    version bold on top, so the trend is visible even where the raw values are noisy.
    An average of past values always trails the raw curve; a smaller ``beta`` trails less.
    """
    fig, ax = _new_axes(title, "epoch", ylabel)
    if log_scale:
        ax.set_yscale("log", nonpositive="mask")
    for name, values in curves.items():
        epochs = range(len(values))
        if beta is None:
            ax.plot(epochs, values, label=name)
            continue
        (raw,) = ax.plot(epochs, values, alpha=0.4, linewidth=1, label=f"{name} (raw)")
        ax.plot(
            epochs,
            ewma(values, beta),
            color=raw.get_color(),
            linewidth=2,
            label=f"{name} (EWMA β={beta:g})",
        )
    ax.legend()
    return save_figure(fig, path)


def plot_lr_sweep(runs: Sequence[SweepRun], path: str | Path) -> Path:
    """Cost per epoch for each learning rate on a log scale. Returns the PNG path.

    Convergent rates are solid blue lines; divergent ones are dashed red with markers and
    labelled DIVERGED, so they stand out even in greyscale.
    """
    fig, ax = _new_axes("Lecture 3: learning-rate sweep (batch GD)", "epoch", "cost (log scale)")
    # A cost of exactly 0.0 has no place on a log axis; "mask" ends the line there.
    ax.set_yscale("log", nonpositive="mask")
    converged = [run for run in runs if not run.diverged]
    diverged = [run for run in runs if run.diverged]
    for group, cmap, style in ((converged, "Blues", "-"), (diverged, "Reds", "--")):
        for k, run in enumerate(group):
            # Only the darker half of the colormap: its palest shades vanish on white.
            color = colormaps[cmap](0.45 + 0.55 * (k + 1) / len(group))
            label = f"lr={run.lr:g}" + (" DIVERGED" if run.diverged else "")
            marker = "x" if run.diverged else None
            ax.plot(
                range(len(run.costs)),
                run.costs,
                color=color,
                linestyle=style,
                marker=marker,
                markevery=5,
                label=label,
            )
    ax.legend(fontsize="small")
    return save_figure(fig, path)
