"""Lectures 5–6: the three-point toy DataModules, and the course's models trained on them."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from zoo.data.toy import LinearToyDataModule, LogisticToyDataModule
from zoo.models import LinearRegression, LogisticRegression


def fit(model: L.LightningModule, dm: L.LightningDataModule, epochs: int) -> L.Trainer:
    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(
        max_epochs=epochs, accelerator="cpu", logger=False, enable_progress_bar=False,
        enable_checkpointing=False, enable_model_summary=False, limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(model, datamodule=dm)
    return trainer


def test_linear_toy_values():
    x, y = LinearToyDataModule().train_dataloader().tensors
    assert x.tolist() == [[1.0], [2.0], [3.0]]
    assert y.tolist() == [[2.0], [4.0], [6.0]]
    assert x.dtype == y.dtype == torch.float32


def test_logistic_toy_values():
    x, y = LogisticToyDataModule().train_dataloader().tensors
    assert x.tolist() == [[1.0], [2.0], [3.0]]
    assert y.tolist() == [0.0, 0.0, 1.0]
    assert y.shape == (3,)
    assert y.dtype == torch.float32


@pytest.mark.parametrize("loader", ["train", "val", "test", "predict"])
def test_every_loader_serves_all_points_in_one_batch(loader: str):
    dm = LinearToyDataModule()
    (batch,) = list(getattr(dm, f"{loader}_dataloader")())
    assert torch.equal(batch[0], dm.x)  # one batch, in order
    assert torch.equal(batch[1], dm.y)


def test_smaller_batches_cover_all_points_shuffled():
    loader = LogisticToyDataModule(batch_size=2).train_dataloader()
    epochs = []
    for epoch in range(4):
        loader.sampler.set_epoch(epoch)
        batches = list(loader)
        assert [len(x) for x, _ in batches] == [2, 1]
        order = torch.cat([x for x, _ in batches]).view(-1).tolist()
        assert sorted(order) == [1.0, 2.0, 3.0]
        epochs.append(order)
    assert len({tuple(order) for order in epochs}) > 1  # reshuffled between epochs


def test_rejects_non_positive_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        LinearToyDataModule(batch_size=0)


def test_linear_regression_predicts_eight_for_four(one_thread):
    model = LinearRegression(lr=0.05, momentum=0.9)
    trainer = fit(model, LinearToyDataModule(), epochs=200)
    with torch.no_grad():
        prediction = model(torch.tensor([[4.0]])).item()
    assert prediction == pytest.approx(8.0, abs=0.05)
    (result,) = trainer.test(model, datamodule=LinearToyDataModule(), verbose=False)
    assert result["test/mse"] < 1e-3


def test_logistic_regression_separates_pass_and_fail(one_thread):
    model = LogisticRegression(lr=0.5, momentum=0.9)
    trainer = fit(model, LogisticToyDataModule(), epochs=100)
    with torch.no_grad():
        p_pass = model.probabilities(model(torch.tensor([[1.0], [4.0]]))).view(-1)
    assert p_pass[0] < 0.5 < p_pass[1]
    (result,) = trainer.test(model, datamodule=LogisticToyDataModule(), verbose=False)
    assert result["test/acc"] == 1.0
