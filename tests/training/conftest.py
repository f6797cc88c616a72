"""Fixtures of the training tests: plain argv, a runs dir, tiny CIFAR, DDP workspaces."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.distributed import Workspace, make_workspace

CIFAR_CLASSES = [
    b"airplane", b"automobile", b"bird", b"cat", b"deer",
    b"dog", b"frog", b"horse", b"ship", b"truck",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _plain_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    """LightningCLI warns when given `args=` while sys.argv holds pytest's own arguments."""
    monkeypatch.setattr(sys, "argv", ["zoo"])


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A fresh `trainer.default_root_dir` for one test."""
    return tmp_path / "runs"


@pytest.fixture(scope="session")
def cifar_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding CIFAR-10 in the genuine python-pickle format, 8 images per batch."""
    root = tmp_path_factory.mktemp("cifar")
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)

    def write(name: str, obj: object) -> None:
        with open(folder / name, "wb") as file:
            pickle.dump(obj, file, protocol=2)

    for name, n in [*((f"data_batch_{i}", 8) for i in range(1, 6)), ("test_batch", 10)]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        write(name, {b"data": data, b"labels": [i % 10 for i in range(n)]})
    write("batches.meta", {b"label_names": CIFAR_CLASSES})
    return root


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh workspace under `tmp_path`; `env` is the environment for `zoo` subprocesses."""
    return make_workspace(tmp_path)
