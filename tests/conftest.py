"""Shared fixtures: one unpacked copy of the real MNIST per test session, in a temp dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from zoo.data import MNISTDataModule


@pytest.fixture(scope="session", autouse=True)
def _isolated_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keep tests from writing into the user's ~/.cache/zoo."""
    path = tmp_path_factory.mktemp("zoo-data")
    os.environ["ZOO_DATA_DIR"] = str(path)
    os.environ.setdefault("WANDB_MODE", "offline")
    return path


@pytest.fixture(scope="session")
def mnist_dir(_isolated_data_dir: Path) -> Path:
    """A data dir holding the real MNIST, unpacked from the bundled originals."""
    MNISTDataModule(data_dir=_isolated_data_dir).prepare_data()
    return _isolated_data_dir


@pytest.fixture(scope="session")
def mnist(mnist_dir: Path) -> MNISTDataModule:
    """A set-up MNISTDataModule (read-only use: do not mutate its tensors)."""
    dm = MNISTDataModule(data_dir=mnist_dir)
    dm.setup()
    return dm


@pytest.fixture
def one_thread():
    """Tiny models train fastest on one thread; more threads only contend for the CPUs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
