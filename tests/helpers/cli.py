"""Helpers shared by the CLI tests: recipe paths and in-process `zoo` runs."""

from __future__ import annotations

from pathlib import Path

from zoo.training.cli import ZooCLI, run_cli

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "recipes"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def recipe(name: str) -> str:
    """The path of `recipes/<name>` as a string for `--config`."""
    path = RECIPES / name
    assert path.is_file(), path
    return str(path)


def fit(runs: Path, *args: str) -> ZooCLI:
    """`zoo fit` in this process, writing under `runs`."""
    return run_cli(["fit", "--trainer.default_root_dir", str(runs), *args])


def is_png(path: Path) -> bool:
    """True when `path` is a non-trivial PNG file."""
    data = path.read_bytes()
    return data.startswith(PNG_SIGNATURE) and len(data) > 1000
