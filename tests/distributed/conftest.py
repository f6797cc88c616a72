"""Fixtures of the distributed tests (helpers live in `distributed_support`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from distributed_support import Workspace, make_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh workspace under `tmp_path`; `env` is the environment for `zoo` subprocesses."""
    return make_workspace(tmp_path)
