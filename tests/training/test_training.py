"""Real training through a Lightning Trainer on the real MNIST."""

from __future__ import annotations

import csv
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


class _EpochEndProbe(L.Callback):
    """Records the training metric's sample count and value at the epoch's end."""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: zoo.CNNMNIST) -> None:
        metric = pl_module.metrics["train_metric"]
        self.samples = int(metric.total)
        self.accuracy = metric.compute()


def test_training_logs_what_loggers_write_and_the_whole_epoch_metric(
    mnist_dir: Path, tmp_path: Path
) -> None:
    L.seed_everything(0, verbose=False)
    dm = zoo.MNISTDataModule(data_dir=mnist_dir, batch_size=32, val_size=100)
    probe = _EpochEndProbe()
    logger = L.pytorch.loggers.CSVLogger(tmp_path, name="run")
    trainer = quiet_trainer(
        tmp_path, max_epochs=2, limit_train_batches=7, limit_val_batches=1, log_every_n_steps=3,
        logger=logger, callbacks=[probe],
    )  # fmt: skip
    trainer.fit(zoo.CNNMNIST(), dm)
    with open(Path(logger.log_dir) / "metrics.csv") as file:
        rows = list(csv.DictReader(file))
    loss_steps = [int(row["step"]) for row in rows if row["train/loss"]]
    assert loss_steps == [2, 5, 8, 11]  # every 3rd of 14 steps, counted from 0
    # Every batch of the epoch reached the metric, though it was logged once.
    assert probe.samples == 7 * 32
    assert trainer.callback_metrics["train/acc"] == probe.accuracy
    assert "train/loss" in trainer.callback_metrics
