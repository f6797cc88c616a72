"""CIFAR-10 DataModule and the restricted unpickler, on tiny batches in the genuine format."""

from __future__ import annotations

import codecs
import io
import os
import pickle
import re
import struct
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from zoo.data.cifar import CIFAR10DataModule
from zoo.data.safe_pickle import RefusedGlobalError, load_restricted
from zoo.errors import BadInput
from zoo.models import CNNCIFAR

CLASSES = [
    b"airplane", b"automobile", b"bird", b"cat", b"deer",
    b"dog", b"frog", b"horse", b"ship", b"truck",
]  # fmt: skip
PER_BATCH = 8
TEST_SIZE = 10


def make_batch(first_id: int, n: int, seed: int) -> dict[bytes, object]:
    """A batch dict as in the originals; pixel 0 of image i holds its id, labels cycle 0..9."""
    data = np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)
    data[:, 0] = np.arange(first_id, first_id + n)
    return {
        b"batch_label": b"training batch",
        b"labels": [(first_id + i) % 10 for i in range(n)],
        b"data": data,
        b"filenames": [b"img_%d.png" % (first_id + i) for i in range(n)],
    }


def write_pickle(path: Path, obj: object) -> None:
    with open(path, "wb") as file:
        pickle.dump(obj, file, protocol=2)


def write_cifar(root: Path) -> Path:
    """Five training batches of 8 images, a test batch of 10 and batches.meta; returns the dir."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i in range(5):
        write_pickle(folder / f"data_batch_{i + 1}", make_batch(i * PER_BATCH, PER_BATCH, i))
    write_pickle(folder / "test_batch", make_batch(100, TEST_SIZE, 99))
    meta = {b"label_names": CLASSES, b"num_cases_per_batch": PER_BATCH, b"num_vis": 3072}
    write_pickle(folder / "batches.meta", meta)
    return folder


@pytest.fixture
def cifar_dir(tmp_path: Path) -> Path:
    return write_cifar(tmp_path)


def make_dm(cifar_dir: Path, **kwargs) -> CIFAR10DataModule:
    dm = CIFAR10DataModule(data_dir=cifar_dir.parent, val_size=10, batch_size=8, **kwargs)
    dm.prepare_data()
    dm.setup()
    return dm


def test_loads_shapes_dtypes_and_labels(cifar_dir: Path):
    dm = make_dm(cifar_dir)
    sizes = {name: len(x) for name, (x, _) in dm.splits.items()}
    assert sizes == {"train": 5 * PER_BATCH - 10, "val": 10, "test": TEST_SIZE}
    test_x, test_y = dm.splits["test"]
    assert test_x.shape == (TEST_SIZE, 3, 32, 32)
    assert test_x.dtype == torch.uint8
    assert test_y.dtype == torch.int64
    assert test_y.tolist() == [(100 + i) % 10 for i in range(TEST_SIZE)]
    assert dm.classes == tuple(name.decode() for name in CLASSES)
    assert dm.classes[3] == "cat"


def test_pixels_land_in_channel_row_column_order(cifar_dir: Path):
    # Lay one test image out by hand: 1024 red values, then green, then blue, rows of 32.
    def value(c: int, r: int, k: int) -> int:
        return (c * 97 + r * 7 + k * 3) % 256

    flat = np.zeros(3072, dtype=np.uint8)
    for c in range(3):
        for r in range(32):
            for k in range(32):
                flat[c * 1024 + r * 32 + k] = value(c, r, k)
    batch = make_batch(100, TEST_SIZE, 99)
    batch[b"data"][4] = flat
    write_pickle(cifar_dir / "test_batch", batch)

    image = make_dm(cifar_dir).splits["test"][0][4]
    for c, r, k in [(0, 0, 0), (0, 0, 31), (0, 31, 0), (1, 5, 9), (2, 31, 31), (2, 17, 3)]:
        assert image[c, r, k].item() == value(c, r, k)


def test_split_is_seeded_and_disjoint(cifar_dir: Path):
    def ids(dm: CIFAR10DataModule, split: str) -> list[int]:
        return dm.splits[split][0][:, 0, 0, 0].tolist()

    first, again, other = make_dm(cifar_dir), make_dm(cifar_dir), make_dm(cifar_dir, seed=1)
    assert ids(first, "val") == ids(again, "val")
    assert ids(first, "train") == ids(again, "train")
    assert sorted(ids(first, "val")) != sorted(ids(other, "val"))
    train, val = set(ids(first, "train")), set(ids(first, "val"))
    assert not train & val
    assert train | val == set(range(5 * PER_BATCH))
    # Labels travel with their images through the split.
    x, y = first.splits["train"]
    assert (y == x[:, 0, 0, 0].long() % 10).all()


def test_augmentation_is_shaped_and_deterministic_per_seed(cifar_dir: Path):
    dm = make_dm(cifar_dir, augment=True)
    images = dm.splits["train"][0][:8]
    out = dm.preprocess(images, seed=5)
    assert out.shape == (8, 3, 32, 32)
    assert out.dtype == torch.float32
    assert torch.equal(out, dm.preprocess(images, seed=5))
    assert not torch.equal(out, dm.preprocess(images, seed=6))
    assert not torch.equal(out, dm.preprocess(images))


def test_preprocess_normalises_per_channel(cifar_dir: Path):
    dm = make_dm(cifar_dir)
    images = torch.full((1, 3, 32, 32), 255, dtype=torch.uint8)
    out = dm.preprocess(images, seed=5)  # augment=False: the seed must not matter
    for c, (mean, std) in enumerate(zip(dm.mean, dm.std, strict=True)):
        assert out[0, c].unique().tolist() == pytest.approx([(1.0 - mean) / std])


def test_cnn_cifar_fast_dev_run(cifar_dir: Path, tmp_path: Path):
    L.seed_everything(0)
    dm = CIFAR10DataModule(data_dir=cifar_dir.parent, val_size=10, batch_size=8, augment=True)
    model = CNNCIFAR(lr=0.01)
    before = model.fc.weight.detach().clone()
    trainer = L.Trainer(
        fast_dev_run=True, accelerator="cpu", logger=False, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(model, datamodule=dm)
    assert trainer.state.finished
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    assert not torch.equal(before, model.fc.weight)


def test_missing_cifar_names_the_expected_path(tmp_path: Path):
    dm = CIFAR10DataModule(data_dir=tmp_path)
    expected = str(tmp_path / "cifar-10-batches-py")
    with pytest.raises(BadInput, match=re.escape(expected)) as info:
        dm.prepare_data()
    assert "--data.download true" in str(info.value)
    assert "data_batch_1" in str(info.value)


def test_partly_missing_cifar_lists_the_missing_files(cifar_dir: Path):
    (cifar_dir / "test_batch").unlink()
    with pytest.raises(BadInput, match="test_batch not found"):
        CIFAR10DataModule(data_dir=cifar_dir.parent).prepare_data()


class RunsShellCommand:
    """Unpickling this with plain pickle.load would run a shell command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_malicious_pickle_is_refused_without_running(cifar_dir: Path):
    marker = cifar_dir / "pwned"
    batch = make_batch(0, PER_BATCH, 0)
    batch[b"labels"] = RunsShellCommand(f"touch {marker}")
    write_pickle(cifar_dir / "data_batch_1", batch)
    dm = CIFAR10DataModule(data_dir=cifar_dir.parent, val_size=10)
    with pytest.raises(ValueError, match=r"system.*fetch CIFAR-10 again") as info:
        dm.setup()
    assert "data_batch_1" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        RunsShellCommand("true"),
        eval,  # a builtin callable, pickled by name
        np.int64(3),  # numpy scalars need numpy.core.multiarray.scalar: not in a genuine batch
    ],
    ids=["os.system", "builtins.eval", "numpy-scalar"],
)
def test_restricted_unpickler_refuses_other_globals(tmp_path: Path, payload: object):
    path = tmp_path / "evil"
    write_pickle(path, {b"data": payload})
    with pytest.raises(RefusedGlobalError, match="refused to load the global"):
        load_restricted(path)


class EncodesWithRot13:
    def __reduce__(self):
        return codecs.encode, ("abc", "rot13")


def test_codecs_encode_is_honoured_only_for_latin1(tmp_path: Path):
    path = tmp_path / "codec"
    write_pickle(path, [b"\x00\xffbytes", EncodesWithRot13()])
    with pytest.raises(pickle.UnpicklingError, match="rot13"):
        load_restricted(path)
    write_pickle(path, [b"\x00\xffbytes", b""])
    assert load_restricted(path) == [b"\x00\xffbytes", b""]


def test_truncated_batch_gives_a_clear_error(cifar_dir: Path):
    path = cifar_dir / "data_batch_3"
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ValueError, match="truncated or corrupt") as info:
        make_dm(cifar_dir)
    assert str(path) in str(info.value)
    assert "fetch CIFAR-10 again" in str(info.value)


def _without(key: bytes) -> dict:
    batch = make_batch(0, PER_BATCH, 0)
    del batch[key]
    return batch


def _with(key: bytes, value: object) -> dict:
    return {**make_batch(0, PER_BATCH, 0), key: value}


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (_without(b"data"), "no b'data' entry"),
        (_without(b"labels"), "no b'labels' entry"),
        (_with(b"data", np.zeros((PER_BATCH, 1024), np.uint8)), r"shape \(8, 1024\)"),
        (_with(b"data", np.zeros((PER_BATCH, 3072), np.float32)), "float32 array"),
        (_with(b"labels", [0, 1, 2]), "8 images but 3 labels"),
        (_with(b"labels", [10] * PER_BATCH), "labels span 10..10"),
        ([1, 2, 3], "no b'data' entry"),
    ],
    ids=[
        "no-data",
        "no-labels",
        "wrong-shape",
        "wrong-dtype",
        "label-count",
        "label-range",
        "list",
    ],
)
def test_malformed_batch_gives_a_clear_error(cifar_dir: Path, batch: object, message: str):
    path = cifar_dir / "data_batch_2"
    write_pickle(path, batch)
    with pytest.raises(ValueError, match=message) as info:
        make_dm(cifar_dir)
    assert str(path) in str(info.value)
    assert "fetch CIFAR-10 again" in str(info.value)


def test_meta_of_another_dataset_is_rejected(cifar_dir: Path):
    write_pickle(cifar_dir / "batches.meta", {b"label_names": [b"apple", b"aquarium_fish"]})
    with pytest.raises(ValueError, match=r"batches\.meta: class names"):
        make_dm(cifar_dir)


class Python2Pickler(pickle._Pickler):
    """Writes bytes and str as Python 2 `str` opcodes (BINSTRING), as the CIFAR originals are."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: bytes | str) -> None:
        raw = obj.encode("ascii") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def test_python2_numpy1_style_batch_loads_the_same(cifar_dir: Path):
    batch = make_batch(100, TEST_SIZE, 99)
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(batch)
    # numpy 1.x, which wrote the originals, names its reconstructor numpy.core.multiarray.
    raw = buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in raw
    assert b"_codecs" not in raw
    expected = make_dm(cifar_dir).splits["test"]
    (cifar_dir / "test_batch").write_bytes(raw)
    loaded = make_dm(cifar_dir).splits["test"]
    assert torch.equal(loaded[0], expected[0])
    assert torch.equal(loaded[1], expected[1])
