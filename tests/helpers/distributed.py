"""Helpers of the distributed tests: the environment and outputs of a real multi-process run.

Every run starts from an empty data directory, uses one thread per process, logs offline, and
has `probe/` on PYTHONPATH: its `zoo_probe.TrainerFacts` callback records what each process's
Trainer saw, and its `sitecustomize` records which process read or wrote which file.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).resolve().parent / "probe"
ZOO = Path(sys.executable).with_name("zoo")

# Outer launchers' variables must not leak into the runs under test.
_LAUNCHER_VARS = ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK",
                  "GROUP_RANK", "LOCAL_WORLD_SIZE", "ZOO_RUN_VERSION")  # fmt: skip
_LAUNCHER_PREFIXES = ("SLURM_", "TORCHELASTIC_", "PL_")

# Small and quick: one validation batch of the whole 1000-sample split, no bars or summaries.
QUICK = [
    "--data.val_size", "1000",
    "--trainer.enable_progress_bar", "false",
    "--trainer.enable_model_summary", "false",
    "--trainer.callbacks+=zoo_probe.TrainerFacts",
]  # fmt: skip


@dataclass
class Workspace:
    """Folders of one test's runs and the environment its processes get."""

    root: Path
    env: dict[str, str]

    @property
    def runs(self) -> Path:
        """`trainer.default_root_dir` of the runs."""
        return self.root / "runs"

    @property
    def data(self) -> Path:
        """The data directory, empty before the first run."""
        return self.root / "data"

    @property
    def probe(self) -> Path:
        """Where `TrainerFacts` and `sitecustomize` write."""
        return Path(self.env["ZOO_PROBE_DIR"])

    def facts(self) -> dict[int, dict]:
        """`TrainerFacts` of every process, by global rank."""
        found = (json.loads(p.read_text()) for p in self.probe.glob("rank*.json"))
        return {f["global_rank"]: f for f in found}

    def file_events(self) -> list[dict]:
        """Every recorded file event of every process, in time order."""
        events = []
        for path in self.probe.glob("files-*.jsonl"):
            events += [json.loads(line) for line in path.read_text().splitlines() if line]
        return sorted(events, key=lambda e: e["t"])


def make_workspace(root: Path) -> Workspace:
    """A fresh workspace; `env` is the environment for `zoo` subprocesses."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _LAUNCHER_VARS and not k.startswith(_LAUNCHER_PREFIXES)
    }
    python_path = [str(PROBE), *filter(None, [env.get("PYTHONPATH")])]
    env.update(
        PYTHONPATH=os.pathsep.join(python_path),
        ZOO_PROBE_DIR=str(root / "probe"),
        ZOO_DATA_DIR=str(root / "data"),
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        PYTHONUNBUFFERED="1",
    )
    env.pop("WANDB_API_KEY", None)
    (root / "data").mkdir()
    return Workspace(root, env)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    """Poll `condition` until it returns something truthy; fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
