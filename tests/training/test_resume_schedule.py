"""Resuming a run whose LR schedule would have to be stretched is refused before training."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

import zoo


def _trainer(root: Path, **kwargs) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
        limit_train_batches=3, limit_val_batches=0, num_sanity_val_steps=0,
        default_root_dir=root, **kwargs,
    )  # fmt: skip


def _one_epoch_checkpoint(mnist_dir: Path, tmp_path: Path, scheduler: str) -> Path:
    """A checkpoint after 1 epoch of 3 steps, with its 3-step LR schedule (a shorter resumed run
    is allowed; tests/distributed/test_slurm_script.py resumes one)."""
    L.seed_everything(0, verbose=False)
    trainer = _trainer(tmp_path / "first", max_epochs=1)
    model = zoo.CNNMNIST(lr=0.05, momentum=0.9, scheduler=scheduler)
    trainer.fit(model, zoo.MNISTDataModule(data_dir=mnist_dir, batch_size=32))
    path = tmp_path / "first.ckpt"
    trainer.save_checkpoint(path)
    return path


@pytest.mark.parametrize("scheduler", ["onecycle", "cosine"])
def test_longer_resumed_run_is_refused_before_a_step(
    mnist_dir: Path, tmp_path: Path, scheduler: str
) -> None:
    checkpoint = _one_epoch_checkpoint(mnist_dir, tmp_path, scheduler)
    model = zoo.CNNMNIST(lr=0.05, momentum=0.9, scheduler=scheduler)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    longer = _trainer(tmp_path / "longer", max_epochs=2)
    message = f"{scheduler} LR schedule spans 3 steps, but this run's settings give 6"
    with pytest.raises(ValueError, match=message):
        longer.fit(
            model, zoo.MNISTDataModule(data_dir=mnist_dir, batch_size=32), ckpt_path=checkpoint
        )
    assert longer.global_step == 0
    assert not list((tmp_path / "longer").rglob("*.ckpt"))
    restored = model.state_dict()
    assert any(not torch.equal(before[k], restored[k]) for k in before)  # weights were loaded


def test_weights_from_a_checkpoint_train_with_a_new_schedule(
    mnist_dir: Path, tmp_path: Path
) -> None:
    checkpoint = _one_epoch_checkpoint(mnist_dir, tmp_path, "onecycle")
    model = zoo.CNNMNIST.load_from_checkpoint(checkpoint, weights_only=True)
    trainer = _trainer(tmp_path / "new", max_epochs=2)
    trainer.fit(model, zoo.MNISTDataModule(data_dir=mnist_dir, batch_size=32))
    assert trainer.global_step == 6
