"""Real training through a Lightning Trainer on the real MNIST."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

import zoo


def quiet_trainer(tmp_path: Path, **kwargs) -> L.Trainer:
    """A CPU Trainer without logger, checkpoints or progress output."""
    defaults = dict(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    return L.Trainer(**{**defaults, **kwargs})


def test_cnn_reaches_97_percent_on_the_real_mnist_test_set(mnist_dir: Path, tmp_path) -> None:
    L.seed_everything(0, verbose=False)
    dm = zoo.MNISTDataModule(data_dir=mnist_dir, batch_size=64)
    model = zoo.CNNMNIST(lr=0.05, momentum=0.9)
    trainer = quiet_trainer(tmp_path, max_epochs=1, num_sanity_val_steps=0)
    trainer.fit(model, dm)
    assert trainer.callback_metrics["val/acc"] > 0.96
    assert {"train/loss", "train/acc", "val/loss", "val/acc"} <= set(trainer.logged_metrics)
    (result,) = trainer.test(model, dm, verbose=False)
    assert result["test/acc"] >= 0.97
    assert set(result) == {"test/loss", "test/acc"}


def test_predict_returns_probabilities_for_the_test_set(mnist_dir: Path, tmp_path) -> None:
    dm = zoo.MNISTDataModule(data_dir=mnist_dir, eval_batch_size=5000)
    trainer = quiet_trainer(tmp_path)
    batches = trainer.predict(zoo.SoftmaxMNIST(), dm)
    probs = torch.cat(batches)
    assert probs.shape == (10_000, 10)
    torch.testing.assert_close(probs.sum(1), torch.ones(10_000))
