"""The datasets' faults, for real: damaged IDX files (and a Hypothesis property test of the
reader), MNIST files with the right size and the wrong bytes, a data folder that is a file,
read-only or full, a crashed run's leftovers, downloads from a mirror on 127.0.0.1 that fails
in every way, and DataModule arguments refused before anything is built."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest
import torch
from helpers.cli import recipe
from helpers.data_mirror import Mirror, serving
from helpers.filesystems import fill, read_only_folder, small_filesystem
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo.cli import main
from zoo.data import CIFAR10DataModule, MNISTDataModule, TabularDataModule
from zoo.data.idx import parse_idx, read_idx
from zoo.data.mnist import FILES, STALE_PART_S, TEST_FILES, _bundled_mnist_dir
from zoo.errors import BadInput, RunFailed, ZooError
from zoo.files import md5_of

ALL_FILES = (*FILES, *TEST_FILES)
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def idx(shape: tuple[int, ...], data: bytes | None = None) -> bytes:
    """The bytes of an unsigned-byte IDX file of `shape` (its data: `data`, else zeros)."""
    header = bytes([0, 0, 8, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)
    size = 1
    for d in shape:
        size *= d
    return header + (bytes(size) if data is None else data)


def one_line(error: ZooError, *words: str) -> str:
    """The error's text is one `what — fix` line holding every word."""
    text = str(error)
    assert "\n" not in text and " — " in text, text
    for word in words:
        assert word in text, text
    return text


def raw_copy(mnist_dir: Path, target: Path, gz: bool = False) -> Path:
    """A torchvision-layout copy of the real MNIST under `target`; its raw folder."""
    raw = target / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ALL_FILES:
        if gz:
            shutil.copy(_bundled_mnist_dir() / f"{name}.gz", raw / f"{name}.gz")
        else:
            shutil.copy(mnist_dir / "MNIST" / "raw" / name, raw / name)
    return raw


def files_under(folder: Path) -> list[Path]:
    """Every file (not folder) under `folder`, hidden ones included."""
    return sorted(p for p in folder.rglob("*") if p.is_file())


# --- the IDX reader ----------------------------------------------------------------------------

LABELS = idx((10,), bytes(range(10)))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", ["magic number ''"]),
        (b"\x00\x00", ["magic number '0000'"]),
        (b"<!DOCTYPE html><html>Not Found</html>", ["magic number '3c21444f'", "HTML page"]),
        (b"\x00\x00\x0d\x01" + bytes(8), ["magic number '00000d01'"]),  # floats, not bytes
        (b"\x00\x00\x08\x03\x00\x00", ["truncated inside its header"]),
        (LABELS[:-3], ["declares shape (10,)", "holds only 7"]),
        (LABELS + b"extra", ["holds more than that"]),
        (idx((60_000, 28, 28), b""), ["declares shape (60000, 28, 28)", "holds only 0"]),
        (idx((2**32 - 1,) * 3, b"x"), ["more than any dataset zoo reads"]),
    ],
)
def test_damaged_idx_files_are_one_line_naming_the_file(
    tmp_path: Path, data: bytes, words: list[str]
) -> None:
    for path in (tmp_path / "file-idx1-ubyte", tmp_path / "file-idx1-ubyte.gz"):
        if path.suffix == ".gz":
            with gzip.open(path, "wb") as packed:
                packed.write(data)
        else:
            path.write_bytes(data)
        with pytest.raises(BadInput) as caught:
            read_idx(path)
        one_line(caught.value, str(path), *words, "delete it")


def gz_bytes(data: bytes) -> bytes:
    """`data` gzip'd, as a file holds it."""
    return gzip.compress(data, mtime=0)


@pytest.mark.parametrize(
    "damage",
    [
        lambda gz: gz[: len(gz) // 2],  # truncated mid-stream
        lambda gz: gz[:10],  # only the gzip header
        lambda gz: gz[:20] + bytes(b ^ 0x5A for b in gz[20:40]) + gz[40:],  # bytes flipped
        lambda gz: gz[:-8] + b"\x00" * 8,  # wrong CRC and size in the trailer
        lambda gz: b"PK\x03\x04" + gz[4:],  # not gzip at all
    ],
    ids=["truncated", "header-only", "flipped", "bad-crc", "not-gzip"],
)
def test_corrupt_gzip_files_are_one_line(tmp_path: Path, damage) -> None:
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(damage(gz_bytes(idx((5000,), bytes(range(250)) * 20))))
    with pytest.raises(BadInput) as caught:
        read_idx(path)
    one_line(caught.value, str(path), "delete it")


def test_a_lying_header_allocates_nothing_like_what_it_declares(tmp_path: Path) -> None:
    """A 60-byte gzip'd file that declares 500 MB, and a 20-byte plain one that declares
    120 MB: refused without allocating a fraction of it."""
    lying_gz = tmp_path / "lying-idx3-ubyte.gz"
    lying_gz.write_bytes(gz_bytes(idx((500, 1000, 1000), b"\x01" * 100)))
    lying_plain = tmp_path / "lying-idx3-ubyte"
    lying_plain.write_bytes(idx((120, 1000, 1000), b"\x01" * 4))
    tracemalloc.start()
    try:
        for path in (lying_gz, lying_plain):
            with pytest.raises(BadInput, match="holds only"):
                read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"peak {peak:,} bytes"


def test_md5_of_what_is_read_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(LABELS)
    assert read_idx(path, md5=md5_of(path)).tolist() == list(range(10))
    with pytest.raises(BadInput) as caught:
        read_idx(path, md5="0" * 32)
    one_line(caught.value, str(path), f"MD5 {md5_of(path)}", "not the published " + "0" * 32)


def outcome_of(read) -> torch.Tensor | BadInput:
    """What `read()` gives: a tensor, or the `BadInput` it raised (any other exception fails
    the test)."""
    try:
        return read()
    except BadInput as error:
        return error


def check_outcome(outcome: torch.Tensor | BadInput, data: bytes) -> None:
    """A uint8 tensor holding exactly the file's data, or a one-line error."""
    if isinstance(outcome, BadInput):
        assert "\n" not in str(outcome) and " — " in str(outcome)
    else:
        assert outcome.dtype == torch.uint8
        assert 4 + 4 * outcome.ndim + outcome.numel() == len(data)


@st.composite
def mutated_idx(draw: st.DrawFn) -> bytes:
    """A valid small IDX file, then truncated, extended, or with bytes overwritten — header
    bytes included, so that its sizes lie."""
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=0, max_size=4)))
    data = bytearray(idx(shape, draw(st.binary(min_size=0, max_size=0)) or None))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["cut", "grow", "poke"]))
        if kind == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "grow":
            data += draw(st.binary(min_size=1, max_size=8))
        elif data:
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
    return bytes(data)


idx_bytes = st.one_of(st.binary(max_size=64), mutated_idx())


@PROPERTY
@given(data=idx_bytes)
def test_parse_idx_gives_the_data_or_one_line(data: bytes) -> None:
    check_outcome(outcome_of(lambda: parse_idx(data, "sample")), data)


@PROPERTY
@given(data=idx_bytes, packed=st.booleans(), cut=st.integers(0, 40))
def test_read_idx_of_a_file_gives_the_data_or_one_line(
    tmp_path: Path, data: bytes, packed: bool, cut: int
) -> None:
    path = tmp_path / ("sample-idx-ubyte.gz" if packed else "sample-idx-ubyte")
    stored = gz_bytes(data) if packed else data
    if packed and cut:
        stored = stored[:-cut]  # a damaged gzip stream as well
    path.write_bytes(stored)
    check_outcome(outcome_of(lambda: read_idx(path)), data)


# --- MNIST files with the wrong bytes --------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["unpacked", "gzipped"])
def test_right_size_wrong_bytes_is_refused_naming_the_file(
    tmp_path: Path, mnist_dir: Path, gz: bool
) -> None:
    """As torchvision leaves a folder (unpacked, or the .gz originals): one image changed."""
    raw = raw_copy(mnist_dir, tmp_path, gz=gz)
    name = "train-images-idx3-ubyte"
    data = bytearray((mnist_dir / "MNIST" / "raw" / name).read_bytes())
    data[16 + 28 * 14 + 14] ^= 0xFF  # a pixel in the middle of the first image
    victim = raw / (f"{name}.gz" if gz else name)
    victim.write_bytes(gzip.compress(bytes(data), 1) if gz else bytes(data))
    dm = MNISTDataModule(data_dir=tmp_path)
    dm.prepare_data()  # every file is there: nothing to unpack, nothing noticed yet
    with pytest.raises(BadInput) as caught:
        dm.setup()
    one_line(caught.value, str(victim), MNISTDataModule.md5[name], "delete it", "--data.data_dir")


def test_a_torchvision_folder_with_the_right_bytes_is_used(tmp_path: Path, mnist_dir: Path) -> None:
    raw_copy(mnist_dir, tmp_path)
    dm = MNISTDataModule(data_dir=tmp_path)
    dm.prepare_data()
    dm.setup()
    assert len(dm.splits["train"][0]) == 55_000 and len(dm.splits["test"][0]) == 10_000


def test_wrong_bytes_through_zoo_fit_is_one_line(
    tmp_path: Path, mnist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = raw_copy(mnist_dir, tmp_path / "data")
    labels = raw / "t10k-labels-idx1-ubyte"
    data = bytearray(labels.read_bytes())
    data[-1] = (data[-1] + 1) % 10  # one label wrong: still a valid label file
    labels.write_bytes(bytes(data))
    code = main(["fit", "--config", recipe("cnn_mnist_quick.yaml"), "--data.data_dir",
                 str(tmp_path / "data"), "--trainer.default_root_dir", str(tmp_path / "runs"),
                 "--trainer.logger", "false"])  # fmt: skip
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if str(labels) in line]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"zoo fit: {labels} has MD5 ")


# --- the data folder -------------------------------------------------------------------------


@pytest.mark.parametrize("inside", [False, True])
def test_a_file_where_the_data_folder_should_be(tmp_path: Path, inside: bool) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    data_dir = blocker / "mnist" if inside else blocker
    with pytest.raises(BadInput) as caught:
        MNISTDataModule(data_dir=data_dir)
    one_line(caught.value, f"--data.data_dir {data_dir}", "a file, not a folder")


def test_a_file_where_the_raw_folder_should_be(tmp_path: Path) -> None:
    (tmp_path / "MNIST").mkdir()
    (tmp_path / "MNIST" / "raw").write_text("in the way")
    with pytest.raises(BadInput) as caught:
        MNISTDataModule(data_dir=tmp_path).prepare_data()
    one_line(caught.value, f"--data.data_dir {tmp_path}", "a file is in the way")
    assert (tmp_path / "MNIST" / "raw").read_text() == "in the way"


def test_read_only_data_folder_needing_files_is_one_line(tmp_path: Path) -> None:
    with read_only_folder(tmp_path / "ro") as folder:
        with pytest.raises(BadInput) as caught:
            MNISTDataModule(data_dir=folder).prepare_data()
        one_line(caught.value, f"--data.data_dir {folder}", "Read-only file system",
                 "--data.data_dir you can write to")  # fmt: skip
        assert files_under(folder) == []


def test_read_only_data_folder_holding_the_files_is_used(tmp_path: Path, mnist_dir: Path) -> None:
    """zoo writes nothing where nothing is missing."""
    target = tmp_path / "ro"
    with small_filesystem(target, 64) as folder:
        (folder / "MNIST" / "raw").mkdir(parents=True)
        for name in ALL_FILES:
            (folder / "MNIST" / "raw" / name).symlink_to(mnist_dir / "MNIST" / "raw" / name)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        dm = MNISTDataModule(data_dir=folder)
        dm.prepare_data()
        dm.setup()
        assert len(dm.splits["test"][0]) == 10_000


def test_full_data_folder_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "small", 1024) as folder:
        with pytest.raises(RunFailed) as caught:
            MNISTDataModule(data_dir=folder).prepare_data()
        one_line(caught.value, f"--data.data_dir {folder}", "No space left", "free some space")
        assert files_under(folder) == []


def test_a_full_disk_mid_unpacking_keeps_the_files_already_there(tmp_path: Path) -> None:
    """The small files fit, the large one does not: those kept are whole and verified."""
    with small_filesystem(tmp_path / "small", 12 * 1024) as folder:
        raw = folder / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for name in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
            with gzip.open(_bundled_mnist_dir() / f"{name}.gz") as packed:
                (raw / name).write_bytes(packed.read())
        fill(folder)
        (folder / "ballast").unlink()  # room for a few MB, not for the 47 MB train images
        with pytest.raises(RunFailed, match="No space left"):
            MNISTDataModule(data_dir=folder).prepare_data()
        (folder / "ballast-tail").unlink()
        kept = [p.name for p in files_under(folder)]
        assert not [n for n in kept if n.endswith(".part")], kept
        for name in kept:
            assert md5_of(raw / name) == MNISTDataModule.md5[name]


def test_a_crashed_unpacking_leaves_nothing_the_next_run_keeps(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    stale = raw / ".train-images-idx3-ubyte.k1ll3d.part"
    stale.write_bytes(b"\x00" * 1000)
    old = time.time() - STALE_PART_S - 60
    os.utime(stale, (old, old))
    fresh = raw / ".t10k-images-idx3-ubyte.inf1ight.part"  # another process, unpacking now
    fresh.write_bytes(b"\x00" * 10)
    MNISTDataModule(data_dir=tmp_path).prepare_data()
    assert not stale.exists() and fresh.exists()
    for name in ALL_FILES:
        assert md5_of(raw / name) == MNISTDataModule.md5[name]


def test_read_only_data_folder_through_zoo_fit_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with read_only_folder(tmp_path / "ro") as folder:
        code = main(["fit", "--config", recipe("cnn_mnist_quick.yaml"), "--data.data_dir",
                     str(folder), "--trainer.default_root_dir", str(tmp_path / "runs"),
                     "--trainer.logger", "false"])  # fmt: skip
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "--data.data_dir" in line]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"zoo fit: --data.data_dir {folder}: cannot write ")


# --- downloads -------------------------------------------------------------------------------


def originals() -> dict[str, bytes]:
    """The four gzip'd MNIST originals, by file name."""
    return {f"{n}.gz": (_bundled_mnist_dir() / f"{n}.gz").read_bytes() for n in ALL_FILES}


def downloading(*mirrors: str) -> type[MNISTDataModule]:
    """MNIST with no local copy, fetched from `mirrors`."""

    class Downloaded(MNISTDataModule):
        def local_source(self) -> Path | None:
            return None

    Downloaded.mirrors = mirrors
    return Downloaded


def test_download_falls_back_to_the_next_mirror_and_verifies(tmp_path: Path) -> None:
    with serving(Mirror({})) as empty, serving(Mirror(originals())) as good:
        dm = downloading(empty.url, good.url)(data_dir=tmp_path, download=True)
        dm.prepare_data()
    raw = tmp_path / "MNIST" / "raw"
    assert [p.name for p in files_under(tmp_path)] == sorted(ALL_FILES)
    for name in ALL_FILES:
        assert md5_of(raw / name) == MNISTDataModule.md5[name]
    assert sorted(empty.asked) == sorted(good.asked) == sorted(f"{n}.gz" for n in ALL_FILES)
    dm.setup()


@pytest.mark.parametrize("fault", ["cut", "corrupt", "status"])
def test_failed_downloads_are_one_line_and_leave_nothing(tmp_path: Path, fault: str) -> None:
    files = originals()
    broken = "train-images-idx3-ubyte.gz"
    mirror = Mirror(files)
    if fault == "cut":
        mirror.cut.add(broken)
    elif fault == "corrupt":
        data = bytearray(zlib.decompress(files[broken], 31))
        data[5000] ^= 1
        files[broken] = gzip.compress(bytes(data), 1)
    else:
        mirror.status[broken] = 503
    with serving(mirror) as served, pytest.raises(RunFailed) as caught:
        downloading(served.url)(data_dir=tmp_path, download=True).prepare_data()
    reason = {"cut": "broke off", "corrupt": "MD5", "status": "503"}[fault]
    one_line(caught.value, f"{served.url}{broken}", reason, "check the network")
    assert files_under(tmp_path) == [], "nothing half-written, nothing unverified"


def test_an_unreachable_mirror_is_one_line(tmp_path: Path) -> None:
    with serving(Mirror({})) as gone:
        url = gone.url
    with pytest.raises(RunFailed) as caught:
        downloading(url)(data_dir=tmp_path, download=True).prepare_data()
    one_line(caught.value, url, "refused", "check the network")
    assert files_under(tmp_path) == []


def test_a_download_into_a_full_folder_blames_the_folder(tmp_path: Path) -> None:
    with serving(Mirror(originals())) as good, small_filesystem(tmp_path / "small", 512) as small:
        with pytest.raises(RunFailed) as caught:
            downloading(good.url)(data_dir=small, download=True).prepare_data()
        one_line(caught.value, f"--data.data_dir {small}", "No space left")
        assert files_under(small) == []


# --- DataModule arguments --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("val_size", "70000", ["--data.val_size 70000: ", "60,000 images", "below 60000"]),
        ("val_size", "-1", ["--data.val_size -1: ", "0 or more"]),
        ("batch_size", "0", ["--data.batch_size 0: ", "at least 1"]),
        ("batch_size", "-64", ["--data.batch_size -64: "]),
        ("eval_batch_size", "0", ["--data.eval_batch_size 0: "]),
        ("num_workers", "-1", ["--data.num_workers", "not accepted"]),
    ],
)
def test_bad_data_arguments_through_zoo_fit_are_one_line_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, words: list[str]
) -> None:
    runs = tmp_path / "runs"
    code = main(["fit", "--config", recipe("cnn_mnist_quick.yaml"), f"--data.{option}", value,
                 "--data.data_dir", str(tmp_path / "data"), "--trainer.default_root_dir",
                 str(runs)])  # fmt: skip
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("zoo fit: ")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], lines[0]
    assert not runs.exists() and not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: CIFAR10DataModule(val_size=50_000), ["--data.val_size 50000", "50,000 images"]),
        (lambda: MNISTDataModule(val_size=True), ["--data.val_size True"]),
        (lambda: MNISTDataModule(batch_size=2.5), ["--data.batch_size 2.5"]),
        (lambda: TabularDataModule(val_fraction=0.5, test_fraction=0.5), ["nothing to train"]),
        (lambda: TabularDataModule(test_fraction=-0.1), ["--data.test_fraction -0.1"]),
    ],
)
def test_bad_data_arguments_in_python_are_one_line(make, words: list[str]) -> None:
    with pytest.raises(BadInput) as caught:
        make()
    one_line(caught.value, *words)
