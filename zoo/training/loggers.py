"""The loggers zoo's recipes name: Lightning's W&B and CSV loggers, and when W&B must be offline."""

from __future__ import annotations

import importlib.util
import netrc
import os
import re
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch.loggers
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from zoo.lightning_shims import drop_unset_wandb_anonymous, keeping_csv_writer

WANDB_PROJECT = "zoo"


def wandb_has_credentials() -> bool:
    """True when W&B can log online: `WANDB_API_KEY` set, or a netrc entry for its host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = re.sub(r"^https?://", "", os.environ.get("WANDB_BASE_URL", "api.wandb.ai")).rstrip("/")
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return path.is_file() and netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_offline() -> bool:
    """Whether W&B must log offline: `WANDB_MODE=offline`, or no credentials to log online.

    Going offline instead of online without a key means a run never stops at a login prompt.
    """
    mode = os.environ.get("WANDB_MODE", "").lower()
    if mode in ("offline", "dryrun"):
        return True
    if mode == "disabled":
        return False
    return not wandb_has_credentials()


def finish_wandb(failed: bool) -> None:
    """Close the W&B run (flushes its summary) so the next run in this process starts fresh."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish(exit_code=1 if failed else 0)


def tensorboard_installed() -> bool:
    """Whether the TensorBoard logger can write (tensorboard or tensorboardX importable)."""
    return any(importlib.util.find_spec(name) for name in ("tensorboard", "tensorboardX"))


class WandbLogger(lightning.pytorch.loggers.WandbLogger):
    """Lightning's `WandbLogger`, minus a warning recent wandb prints on every run."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        drop_unset_wandb_anonymous(self)


class CSVLogger(lightning.pytorch.loggers.CSVLogger):
    """Lightning's `CSVLogger`; with `keep_existing`, new rows go after the run's earlier ones.

    Lightning's writer deletes an existing `metrics.csv` when it starts, so resuming a run (or
    testing its checkpoint) in the same directory would lose every row logged before. zoo's CLI
    sets `keep_existing` whenever it is given a `--ckpt_path`.
    """

    def __init__(self, keep_existing: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keep_existing = keep_existing

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        """The writer; one that continues the existing file under `keep_existing`."""
        if self.keep_existing:
            keeping_csv_writer(self)
        return super().experiment
