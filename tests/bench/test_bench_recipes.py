"""The benchmark's fastest-to-99 % recipe is the one users get from `recipes/`."""

from __future__ import annotations

from pathlib import Path

import yaml

from zoo.benchmark.recipes import FASTEST_TO_99

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "resnet_mnist_1epoch.yaml"


def test_fastest_recipe_matches_its_yaml() -> None:
    config = yaml.safe_load(RECIPE.read_text())
    assert config["model"]["class_path"] == "zoo.ResNetMNIST"
    assert FASTEST_TO_99.model == "resnet_mnist"
    assert config["model"]["init_args"] == FASTEST_TO_99.hparams
    assert config["data"]["init_args"]["batch_size"] == FASTEST_TO_99.batch_size
    assert config["trainer"]["max_epochs"] == FASTEST_TO_99.epochs
