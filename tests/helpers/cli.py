"""Helpers shared by the CLI tests: recipe paths and in-process `zoo` runs."""

from __future__ import annotations

from pathlib import Path

from zoo.training.lightning_cli import ZooCLI, run_cli
from zoo.training.recipes import recipe_path, recipes_dir

REPO = Path(__file__).resolve().parents[2]
RECIPES = recipes_dir()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def recipe(name: str) -> str:
    """The path of zoo's recipe `name` (`resnet_mnist.yaml`, `trainer/gpu`) for `--config`."""
    path = recipe_path(name)
    assert path.is_relative_to(RECIPES), path
    return str(path)


def fit(runs: Path, *args: str) -> ZooCLI:
    """`zoo fit` in this process, writing under `runs`."""
    return run_cli(["fit", "--trainer.default_root_dir", str(runs), *args])


def is_png(path: Path) -> bool:
    """True when `path` is a non-trivial PNG file."""
    data = path.read_bytes()
    return data.startswith(PNG_SIGNATURE) and len(data) > 1000
