"""Lectures 7–8: TabularDataModule on the bundled breast-cancer data and diabetes-layout CSVs."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from zoo.data.tabular import TabularDataModule, read_csv
from zoo.models import MultiFeatureMLP


@pytest.fixture(scope="module")
def breast_cancer() -> TabularDataModule:
    dm = TabularDataModule()
    dm.setup()
    return dm


def test_breast_cancer_is_the_default(breast_cancer: TabularDataModule):
    features, labels = breast_cancer.load_raw()
    assert features.shape == (569, 30)
    assert set(np.unique(labels)) == {0.0, 1.0}
    assert breast_cancer.name == "breast_cancer"


def test_in_features_is_known_before_setup():
    dm = TabularDataModule()
    assert dm.in_features == 30
    assert dm.splits == {}


def test_split_sizes_types_and_shapes(breast_cancer: TabularDataModule):
    sizes = {name: len(y) for name, (_, y) in breast_cancer.splits.items()}
    assert sizes == {"train": 398, "val": 57, "test": 114} == breast_cancer.split_sizes()
    for x, y in breast_cancer.splits.values():
        assert x.dtype == y.dtype == torch.float32
        assert x.shape == (len(y), 30)
        assert y.ndim == 1


def test_standardised_with_train_statistics_only(breast_cancer: TabularDataModule):
    mean, std = breast_cancer.feature_mean, breast_cancer.feature_std
    train_x = breast_cancer.splits["train"][0]
    assert torch.allclose(train_x.mean(0), torch.zeros(30), atol=1e-5)
    assert torch.allclose(train_x.std(0, correction=0), torch.ones(30), atol=1e-4)
    assert breast_cancer.splits["test"][0].mean(0).abs().max() > 0.05
    # Undoing the standardisation gives back the original rows, each exactly once.
    raw = torch.from_numpy(breast_cancer.load_raw()[0])
    restored = torch.cat([x * std + mean for x, _ in breast_cancer.splits.values()]).double()
    distances = torch.cdist(restored, raw)
    assert sorted(distances.argmin(1).tolist()) == list(range(569))
    assert distances.min(1).values.max() < 1e-2
    assert not torch.allclose(mean.double(), raw.mean(0), rtol=1e-4)


def test_split_is_seeded(breast_cancer: TabularDataModule):
    again, other = TabularDataModule(), TabularDataModule(seed=1)
    again.setup()
    other.setup()
    for split in ("train", "val", "test"):
        assert torch.equal(again.splits[split][0], breast_cancer.splits[split][0])
    assert not torch.equal(other.splits["test"][0], breast_cancer.splits["test"][0])


def test_setup_is_idempotent(breast_cancer: TabularDataModule):
    splits = breast_cancer.splits
    breast_cancer.setup("fit")
    assert breast_cancer.splits is splits


def test_loaders(breast_cancer: TabularDataModule):
    train = breast_cancer.train_dataloader()
    batches = list(train)
    assert len(batches) == len(train) == 13  # ceil(398 / 32)
    x, y = batches[0]
    assert x.shape == (32, 30)
    assert y.shape == (32,)
    assert sum(len(y) for _, y in batches) == 398
    train.sampler.set_epoch(1)
    assert not torch.equal(next(iter(train))[0], x)  # reshuffled per epoch
    (val_x, _), *rest = list(breast_cancer.val_dataloader())
    assert not rest
    assert torch.equal(val_x, breast_cancer.splits["val"][0])


def diabetes_rows(n: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    features = rng.uniform(-1, 1, (n, 8)).round(6)
    labels = (features[:, 0] + features[:, 1] > 0).astype(float)
    return np.column_stack([features, labels])


def write_csv(path: Path, table: np.ndarray) -> Path:
    text = "\n".join(",".join(f"{v:g}" for v in row) for row in table) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["diabetes.csv", "diabetes.csv.gz"])
def test_csv_in_the_diabetes_layout(tmp_path: Path, name: str):
    table = diabetes_rows()
    dm = TabularDataModule(csv_path=write_csv(tmp_path / name, table), seed=3)
    assert dm.in_features == 8
    assert dm.name == "diabetes"
    features, labels = dm.load_raw()
    np.testing.assert_allclose(features, table[:, :8])
    np.testing.assert_array_equal(labels, table[:, 8])
    dm.setup()
    assert {k: len(y) for k, (_, y) in dm.splits.items()} == {"train": 28, "val": 4, "test": 8}


def test_csv_tolerates_blank_lines(tmp_path: Path):
    path = tmp_path / "d.csv"
    path.write_text("0.5,1,0\n\n-0.25,2,1\n\n")
    features, labels = read_csv(path)
    np.testing.assert_array_equal(features, [[0.5, 1.0], [-0.25, 2.0]])
    np.testing.assert_array_equal(labels, [0.0, 1.0])


def test_missing_csv(tmp_path: Path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        TabularDataModule(csv_path=path).setup()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.1,0.2,1\n0.3,0.4,2\n", r"line 2: the last column is the label and must be 0 or 1"),
        ("0.1,0.2,1\n0.3,0\n", r"line 2: 2 columns, but line 1 has 3"),
        ("a,b,label\n0.1,0.2,1\n", r"line 1: 'a' is not a number.*without a header"),
        ("0.1,nan,1\n", r"line 1: 'nan' is not a finite number"),
        ("\n\n", "holds no data rows"),
        ("1\n0\n", "need at least one feature and the label"),
    ],
    ids=["label-not-binary", "ragged", "header", "nan", "empty", "label-only"],
)
def test_bad_csv_gives_a_clear_error(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        TabularDataModule(csv_path=path).setup()
    assert str(path) in str(info.value)


def test_corrupt_gzip_gives_a_clear_error(tmp_path: Path):
    path = write_csv(tmp_path / "diabetes.csv.gz", diabetes_rows())
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ValueError, match="could not be read as a gzip-compressed CSV"):
        read_csv(path)


@pytest.mark.parametrize(("val", "test"), [(-0.1, 0.2), (0.5, 0.5), (0.2, 0.9)])
def test_invalid_fractions(val: float, test: float):
    with pytest.raises(ValueError, match="val_fraction"):
        TabularDataModule(val_fraction=val, test_fraction=test)


def test_multifeature_mlp_learns_breast_cancer(one_thread):
    L.seed_everything(0, verbose=False)
    dm = TabularDataModule(batch_size=32, seed=0)
    model = MultiFeatureMLP(in_features=dm.in_features, optimizer="adam", lr=0.01)
    trainer = L.Trainer(
        max_epochs=20, accelerator="cpu", logger=False, enable_progress_bar=False,
        enable_checkpointing=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(model, datamodule=dm)
    (result,) = trainer.test(model, datamodule=dm, verbose=False)
    assert result["test/acc"] >= 0.95
