"""zoo's Lightning callbacks, on real (tiny) training runs."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

import zoo
from zoo.callbacks import ZooCheckpoint
from zoo.data import TensorBatchLoader


def test_last_checkpoint_holds_the_final_step_when_accuracy_stalls(tmp_path: Path) -> None:
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    # A vanishing learning rate keeps val/acc flat, so no epoch after the first is a "best".
    model = zoo.CNNMNIST(lr=1e-12)
    checkpoint = ZooCheckpoint(dirpath=tmp_path, last_every_n_steps=0)
    trainer = L.Trainer(
        max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[checkpoint], default_root_dir=tmp_path,
    )  # fmt: skip
    loader = TensorBatchLoader((x, y), batch_size=16)
    trainer.fit(model, train_dataloaders=loader, val_dataloaders=loader)
    assert len(list(tmp_path.glob("best-*.ckpt"))) == 1
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert saved["global_step"] == trainer.global_step == 12
