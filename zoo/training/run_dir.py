"""Where a run writes: `<root>/<name>/<version>/`, one directory a run, shared by its ranks."""

from __future__ import annotations

import os
import re
from pathlib import Path

DEFAULT_ROOT = "runs"
VERSION_ENV = "ZOO_RUN_VERSION"
"""Set by rank 0 so that the DDP processes it launches write into the same run directory."""


def process_rank() -> int:
    """This process's global rank from the launcher's environment (0 outside DDP)."""
    for var in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 0


def snake_case(name: str) -> str:
    """`ResNetMNIST` → `res_net_mnist`: the default experiment name of a model class."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def existing_versions(experiment_dir: Path) -> list[int]:
    """The N of every `version_N` directory under `experiment_dir`, sorted."""
    if not experiment_dir.is_dir():
        return []
    found = (re.fullmatch(r"version_(\d+)", p.name) for p in experiment_dir.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def choose_version(experiment_dir: Path, version: str | None, reuse_latest: bool) -> str:
    """The run's version: `version` if given, rank 0's under DDP, else the next (or latest) one.

    A new version's directory is created here, with `mkdir`, which only one process can win:
    two runs started together get two directories. Rank 0 publishes its choice in the
    environment, which the DDP processes it launches inherit.
    """
    if version is None and process_rank() > 0:
        # Only rank 0 claims a directory, and only rank 0 writes into it; a rank started by
        # another launcher (torchrun without --version) takes the newest, rank 0's own.
        existing = existing_versions(experiment_dir)
        version = os.environ.get(VERSION_ENV) or f"version_{existing[-1] if existing else 0}"
    if version is None:
        existing = existing_versions(experiment_dir)
        if reuse_latest and existing:
            version = f"version_{existing[-1]}"
        else:
            version = claim_next_version(experiment_dir, existing[-1] + 1 if existing else 0)
    if process_rank() == 0:
        os.environ[VERSION_ENV] = version
    return version


def claim_next_version(experiment_dir: Path, first: int) -> str:
    """Create the first free `version_N` (N >= `first`) under `experiment_dir`; its name."""
    experiment_dir.mkdir(parents=True, exist_ok=True)
    number = first
    while True:
        try:
            (experiment_dir / f"version_{number}").mkdir()
        except FileExistsError:
            number += 1
            continue
        return f"version_{number}"


def holds_a_run(run_dir: Path) -> bool:
    """True when `run_dir` already has a run's config, metrics or checkpoints."""
    markers = ("config.yaml", "metrics.csv", "checkpoints")
    return any((run_dir / marker).exists() for marker in markers)
