"""MNIST and Fashion-MNIST DataModules on the real files: unpacking, splits, batches, errors."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import torch

from zoo.data import FashionMNISTDataModule, MNISTDataModule
from zoo.data.idx import parse_idx, read_idx
from zoo.data.mnist import FILES, TEST_FILES, _bundled_mnist_dir
from zoo.errors import BadInput
from zoo.files import md5_of

ALL_FILES = (*FILES, *TEST_FILES)


def test_offline_unpack_writes_the_originals_with_published_md5s(tmp_path: Path) -> None:
    dm = MNISTDataModule(data_dir=tmp_path)
    dm.prepare_data()
    for name in ALL_FILES:
        assert md5_of(dm.raw_dir / name) == MNISTDataModule.md5[name]
    assert not list(dm.raw_dir.glob(".*.part")), "no temporary files left behind"


def test_bundled_md5s_file_agrees_with_the_code() -> None:
    listed = (_bundled_mnist_dir() / "MD5SUMS.uncompressed").read_text().split()
    assert dict(zip(listed[1::2], listed[::2], strict=True)) == MNISTDataModule.md5


def test_official_splits_and_default_validation_size(mnist: MNISTDataModule) -> None:
    sizes = {split: len(x) for split, (x, _) in mnist.splits.items()}
    assert sizes == {"train": 55_000, "val": 5_000, "test": 10_000}
    images, labels = mnist.splits["test"]
    assert images.dtype == torch.uint8 and images.shape[1:] == (1, 28, 28)
    assert labels.dtype == torch.int64 and set(labels.unique().tolist()) == set(range(10))


def test_validation_is_carved_from_train_without_overlap(mnist: MNISTDataModule) -> None:
    train, val = mnist.split_index["train"], mnist.split_index["val"]
    assert len(set(train.tolist()) & set(val.tolist())) == 0
    assert sorted(torch.cat([train, val]).tolist()) == list(range(60_000))


def test_test_split_is_the_official_t10k_file(mnist: MNISTDataModule, mnist_dir: Path) -> None:
    t10k = read_idx(mnist_dir / "MNIST" / "raw" / "t10k-images-idx3-ubyte")
    assert torch.equal(mnist.splits["test"][0].squeeze(1), t10k)


def test_split_is_seeded_and_configurable(mnist_dir: Path) -> None:
    a = MNISTDataModule(data_dir=mnist_dir, seed=1, val_size=1000)
    b = MNISTDataModule(data_dir=mnist_dir, seed=1, val_size=1000)
    c = MNISTDataModule(data_dir=mnist_dir, seed=2, val_size=1000)
    for dm in (a, b, c):
        dm.setup()
    assert len(a.splits["val"][0]) == 1000
    assert torch.equal(a.split_index["val"], b.split_index["val"])
    assert not torch.equal(a.split_index["val"], c.split_index["val"])


def test_setup_is_idempotent(mnist_dir: Path) -> None:
    dm = MNISTDataModule(data_dir=mnist_dir)
    dm.setup("fit")
    first = dm.splits["train"][0]
    dm.setup("test")
    assert dm.splits["train"][0] is first


def test_batches_are_normalised_on_transfer(mnist: MNISTDataModule) -> None:
    images, labels, seed = next(iter(mnist.train_dataloader()))
    assert images.dtype == torch.uint8 and len(images) == 64 and isinstance(seed, int)
    x, y = mnist.on_after_batch_transfer((images, labels, seed), 0)
    expected = (images.float() / 255 - 0.1307) / 0.3081
    torch.testing.assert_close(x, expected)
    assert y is labels


def test_training_batches_are_augmented_only_when_asked(mnist_dir: Path) -> None:
    dm = MNISTDataModule(data_dir=mnist_dir, augment=True)
    dm.setup()
    images, _, seed = next(iter(dm.train_dataloader()))
    plain = dm.preprocess(images)
    augmented = dm.preprocess(images, seed)
    assert augmented.shape == plain.shape
    assert not torch.allclose(augmented, plain)
    torch.testing.assert_close(dm.preprocess(images, seed), augmented)
    # Evaluation batches (no trainer, i.e. not training) are never augmented.
    x, _ = dm.on_after_batch_transfer((images, torch.zeros(64), seed), 0)
    torch.testing.assert_close(x, plain)


def test_user_dir_in_torchvision_layout_is_used_as_is(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ALL_FILES:
        shutil.copy(_bundled_mnist_dir() / f"{name}.gz", raw / f"{name}.gz")
    dm = MNISTDataModule(data_dir=tmp_path)
    dm.prepare_data()
    assert sorted(p.name for p in raw.iterdir()) == sorted(f"{n}.gz" for n in ALL_FILES)
    dm.setup()
    assert len(dm.splits["test"][0]) == 10_000


def _write_idx(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_truncated_idx_file_gives_a_clear_error(tmp_path: Path, mnist_dir: Path) -> None:
    original = (mnist_dir / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").read_bytes()
    path = tmp_path / "labels"
    _write_idx(path, original[:-10])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        read_idx(path)


def test_wrong_magic_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "page.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"<html>not found</html>")
    with pytest.raises(BadInput, match=r"magic number '3c68746d'.*HTML page"):
        read_idx(path)
    with pytest.raises(BadInput, match="not a readable gzip'd IDX file"):
        read_idx(_write_text(tmp_path / "bad.gz", "plain text, not gzip"))


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_parse_idx_reads_shape_and_values() -> None:
    header = bytes([0, 0, 8, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    tensor = parse_idx(header + bytes(range(6)))
    assert tensor.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_corrupted_image_file_in_user_dir_is_reported_on_setup(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    for name in ALL_FILES:
        _write_idx(raw / name, bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]))
    dm = MNISTDataModule(data_dir=tmp_path)
    with pytest.raises(ValueError, match="truncated or corrupted"):
        dm.setup()


def test_corrupted_source_is_rejected_and_nothing_is_left(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ALL_FILES:
        with gzip.open(source / f"{name}.gz", "wb") as f:
            f.write(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07")

    class Corrupt(MNISTDataModule):
        def local_source(self) -> Path:
            return source

    dm = Corrupt(data_dir=tmp_path / "data")
    with pytest.raises(ValueError, match="published"):
        dm.prepare_data()
    assert not any(p.is_file() for p in (tmp_path / "data").rglob("*"))


def test_missing_data_without_source_or_download_says_what_to_do(tmp_path: Path) -> None:
    class Offline(FashionMNISTDataModule):
        debian_dir = tmp_path / "nowhere"

    with pytest.raises(BadInput, match="apt-get install dataset-fashion-mnist"):
        Offline(data_dir=tmp_path).prepare_data()
    assert not (tmp_path / "FashionMNIST").exists() or not any(
        (tmp_path / "FashionMNIST").rglob("*")
    )


def test_setup_before_prepare_data_explains_the_order(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="prepare_data"):
        MNISTDataModule(data_dir=tmp_path).setup()


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"eval_batch_size": -1}, {"val_size": -5}])
def test_bad_arguments_fail_at_construction(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        MNISTDataModule(**kwargs)


def test_val_size_too_large_is_explained(mnist_dir: Path) -> None:
    with pytest.raises(BadInput, match=r"--data\.val_size 60000: .* none would be left"):
        MNISTDataModule(data_dir=mnist_dir, val_size=60_000)


@pytest.mark.skipif(
    not FashionMNISTDataModule.debian_dir.is_dir(),
    reason="Fashion-MNIST not installed: apt-get install dataset-fashion-mnist",
)
def test_fashion_mnist_from_the_debian_package(tmp_path: Path) -> None:
    dm = FashionMNISTDataModule(data_dir=tmp_path)
    dm.prepare_data()
    for name in ALL_FILES:
        assert md5_of(dm.raw_dir / name) == FashionMNISTDataModule.md5[name]
    dm.setup()
    labels = dm.splits["test"][1]
    assert torch.bincount(labels).tolist() == [1000] * 10
    assert dm.classes[9] == "Ankle boot"
