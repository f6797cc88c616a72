"""The README's main job: a short, seeded ResNetMNIST training on CPU, then the test accuracy."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import lightning as L

from zoo.data import MNISTDataModule
from zoo.models import ResNetMNIST


def run_demo(epochs: int = 2, data_dir: str | Path | None = None, seed: int = 0) -> float:
    """Train `ResNetMNIST` for `epochs` on the bundled MNIST; return official test accuracy."""
    L.seed_everything(seed, verbose=False)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    data = MNISTDataModule(data_dir=data_dir, batch_size=128, seed=seed)
    model = ResNetMNIST(lr=0.1, momentum=0.9, nesterov=True, scheduler="onecycle")
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    trainer.fit(model, data)
    (result,) = trainer.test(model, data, verbose=False)
    return result["test/acc"]
