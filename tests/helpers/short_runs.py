"""Real short training runs whose checkpoints the publishing tests publish."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.loggers import CSVLogger


def train(root: Path, model: L.LightningModule, data: L.LightningDataModule, epochs: int,
          timer: bool = True, seed: int = 0) -> Path:  # fmt: skip
    """Train `epochs` epochs, logging `metrics.csv` into `root`; the final checkpoint's path."""
    L.seed_everything(seed, verbose=False)
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=CSVLogger(root, name="", version=""),
        callbacks=[Timer()] if timer else [],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    trainer.fit(model, data)
    path = root / "last.ckpt"
    trainer.save_checkpoint(path, weights_only=False)
    return path
