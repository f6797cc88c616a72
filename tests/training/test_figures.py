"""The training-curve figure: only per-step series are smoothed, and the legend says which."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

from zoo.course.lecture3 import ewma
from zoo.training import figures
from zoo.training.figures import plot_curves


def test_per_epoch_points_are_drawn_as_they_are_and_steps_are_smoothed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[Figure] = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, path: drawn.append(fig) or Path(path))
    steps = [(i / 10, float(v)) for i, v in enumerate([2.3, 1.9, 2.1, 1.2, 1.4, 0.8])]
    epochs = [(1.0, 0.90), (2.0, 0.97)]
    panels = {"loss": {"train/loss": steps}, "acc": {"train/acc": epochs}}
    plot_curves(panels, tmp_path / "curves.png", beta=0.6, smoothed={"train/loss"})
    loss_ax, acc_ax = drawn[0].axes
    lines = {line.get_label(): list(line.get_ydata()) for line in loss_ax.lines + acc_ax.lines}
    assert lines["train/acc (per epoch)"] == [0.90, 0.97]  # not pulled towards 0.90
    assert lines["train/loss (each step)"] == [v for _, v in steps]
    assert lines["train/loss (EWMA β=0.6)"] == pytest.approx(ewma([v for _, v in steps], 0.6))
    assert loss_ax.get_xlabel() == "epoch" and acc_ax.get_ylabel() == "acc"
