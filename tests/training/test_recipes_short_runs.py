"""Shortening a recipe never blows up: every MNIST image recipe trains one epoch without NaN."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.cli import fit, recipe

from zoo.data import FashionMNISTDataModule

MNIST_RECIPES = ["softmax_mnist", "cnn_mnist", "inception_mnist", "resnet_mnist",
                 "resnet_mnist_1epoch", "resnet_fashion_mnist"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", MNIST_RECIPES)
def test_one_epoch_of_each_recipe_stays_finite(name: str, runs: Path) -> None:
    if name == "resnet_fashion_mnist" and not FashionMNISTDataModule.debian_dir.is_dir():
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    # fp32: the precision in which a squeezed one-cycle warm-up was seen to diverge.
    cli = fit(
        runs, "--config", recipe(name), "--config", recipe("logger/csv"),
        "--trainer.max_epochs", "1", "--trainer.precision", "32-true",
        "--trainer.enable_progress_bar", "false",
    )  # fmt: skip
    assert cli.trainer.current_epoch == 1  # TrainingDiverged would have stopped the run earlier
    assert cli.trainer.callback_metrics["val/acc"] > 0.8
