"""zoo's Lightning callbacks, on real (tiny) training runs."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

import zoo
from zoo.data import TensorBatchLoader
from zoo.models import ImageClassifier
from zoo.training.callbacks import TrainingDiverged, ZooCheckpoint
from zoo.training.reports import TrainingCurves


def _fit_checkpointed(
    model: ImageClassifier, checkpoint: ZooCheckpoint, tmp_path: Path, max_epochs: int
) -> L.Trainer:
    """The Trainer after fitting `model` on 64 random images (4 steps an epoch)."""
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    trainer = L.Trainer(
        max_epochs=max_epochs, accelerator="cpu", logger=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[checkpoint], default_root_dir=tmp_path,
    )  # fmt: skip
    loader = TensorBatchLoader((x, y), batch_size=16)
    trainer.fit(model, train_dataloaders=loader, val_dataloaders=loader)
    return trainer


def test_last_checkpoint_holds_the_final_step_when_accuracy_stalls(tmp_path: Path) -> None:
    # A vanishing learning rate keeps val/acc flat, so no epoch after the first is a "best".
    checkpoint = ZooCheckpoint(dirpath=tmp_path, last_every_n_steps=0)
    trainer = _fit_checkpointed(zoo.CNNMNIST(lr=1e-12), checkpoint, tmp_path, max_epochs=3)
    assert len(list(tmp_path.glob("best-*.ckpt"))) == 1
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert saved["global_step"] == trainer.global_step == 12


def test_a_diverged_run_stops_before_saving_nan_weights(tmp_path: Path) -> None:
    torch.manual_seed(0)
    # At this rate the weights overflow to inf/NaN on the third step.
    model = zoo.SoftmaxMNIST(lr=1e3)
    checkpoint = ZooCheckpoint(dirpath=tmp_path, last_every_n_steps=1)
    with pytest.raises(TrainingDiverged, match=r"lower learning rate \(--model.init_args.lr, "):
        _fit_checkpointed(model, checkpoint, tmp_path, max_epochs=5)
    assert not all(p.isfinite().all() for p in model.parameters())
    # The last checkpoint is the last finite state, saved before the run diverged.
    saved = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert 0 < saved["global_step"] < 5 * 4
    assert all(w.isfinite().all() for w in saved["state_dict"].values())


class _StepLosses(L.Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []
        self.saved_mid_epoch: dict | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        self.losses.append(outputs["loss"].item())
        if trainer.global_step == 6:
            self.saved_mid_epoch = trainer.callbacks[0].state_dict()


def test_training_curves_keep_every_step_loss(tmp_path: Path) -> None:
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    curves, probe = TrainingCurves(dirpath=tmp_path), _StepLosses()
    trainer = L.Trainer(
        max_epochs=2, accelerator="cpu", logger=False, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False, callbacks=[curves, probe],
        default_root_dir=tmp_path,
    )  # fmt: skip
    loader = TensorBatchLoader((x, y), batch_size=16)
    trainer.fit(zoo.CNNMNIST(), train_dataloaders=loader, val_dataloaders=loader)
    points = curves.history["train/loss"]
    assert [x for x, _ in points] == [0.25 * step for step in range(1, 9)]
    assert [v for _, v in points] == pytest.approx(probe.losses)
    # A checkpoint taken mid-epoch holds the losses so far.
    assert len(probe.saved_mid_epoch["history"]["train/loss"]) == 6
    assert (tmp_path / "plots" / "curves.png").is_file()
