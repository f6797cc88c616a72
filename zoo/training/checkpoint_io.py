"""Checkpoint files that are whole or absent: what every `zoo fit` saves with.

Lightning's own writer opens the final path and writes into it, so a full disk or a kill mid-save
leaves a truncated `best-….ckpt` that `--ckpt_path best` then picks. Here each checkpoint is
written beside its final name, fsync'ed and renamed (`zoo.files.atomic_writer`): a failed save
leaves the previous file as it was, and the run stops with one line saying what happened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from zoo.errors import RunFailed
from zoo.files import atomic_writer


class AtomicCheckpointIO(TorchCheckpointIO):
    """`TorchCheckpointIO` whose saves to local paths are atomic (remote URLs: Lightning's)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None
    ) -> None:
        """Write `checkpoint` to `path` all at once, keeping any older file there on failure."""
        if "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        try:
            with atomic_writer(Path(path)) as out:
                torch.save(checkpoint, out)
        except OSError as err:
            raise RunFailed(
                f"could not save the checkpoint {path} ({err.strerror or err})",
                "free some space or give another --trainer.default_root_dir; the checkpoints "
                "saved before are kept, resume with --ckpt_path last",
            ) from err


def use_atomic_checkpoints(trainer: L.Trainer) -> None:
    """Give `trainer` atomic local checkpoint saves, unless a recipe chose its own CheckpointIO."""
    if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()
