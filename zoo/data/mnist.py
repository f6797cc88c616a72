"""MNIST and Fashion-MNIST: 60,000 training and 10,000 test 28×28 grey images, 10 classes.

The files keep torchvision's layout (`<data_dir>/MNIST/raw/train-images-idx3-ubyte`, …), so a
directory torchvision already filled is used, once its files match the published MD5s. Where
files are missing they come from a local source (MNIST ships inside this package; Fashion-MNIST
from Debian's `dataset-fashion-mnist`), are checked against the published MD5s, and written
atomically; only with `download=True` are they fetched from the internet (torchvision's
mirrors), into a temporary file that is unpacked, verified and renamed into place. Every file
read is checked against its published MD5 (about 0.1 s for MNIST), so a damaged copy is one
clear error instead of a model trained on it.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from importlib import resources
from pathlib import Path
from typing import ClassVar

import torch

from zoo.data.augment import RandomAffine
from zoo.data.base import ImageDataModule, Split
from zoo.data.idx import read_idx
from zoo.errors import BadInput, RunFailed
from zoo.files import CHUNK, give_default_mode, md5_of

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DOWNLOAD_TIMEOUT_S = 30.0
MAX_DOWNLOAD_BYTES = 64 * 2**20  # the largest original, Fashion-MNIST's train images, is 26 MB
# A temporary file this old is a crashed run's leftover, not another process's unpacking
# (which takes well under a second a file, or a download's few minutes).
STALE_PART_S = 15 * 60


def _bundled_mnist_dir() -> Path:
    return Path(str(resources.files("zoo.data") / "assets" / "mnist"))


def unpack_verified(source: Path, target: Path, md5: str, label: str | None = None) -> None:
    """Gunzip `source` to `target` through a temporary file, keeping it only if the MD5 matches.

    Raises `BadInput` for a source that is not gzip or unpacks to other data, naming it
    `label` (default: its path); `target` is then untouched, and no temporary file is left.
    """
    label = label or str(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with gzip.open(source, "rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
            except (gzip.BadGzipFile, EOFError, zlib.error) as error:
                raise BadInput(
                    f"{label} is not a readable gzip file ({error or 'truncated'})",
                    "reinstall it, or use --data.download true",
                ) from None
        actual = md5_of(tmp)
        if actual != md5:
            raise BadInput(
                f"{label} unpacks to data with MD5 {actual}, not the published {md5}: the "
                "source file is corrupted",
                "reinstall it, or use --data.download true",
            )
        give_default_mode(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class MNISTDataModule(ImageDataModule):
    """The real MNIST (LeCun, Cortes, Burges; CC BY-SA 3.0), offline by default.

    See `ImageDataModule` for the arguments. `augment=True` adds small random rotations, shifts
    and zooms to training batches. Every file is checked against its published MD5 when it is
    read, wherever it came from (a folder torchvision filled included): about 0.1 s for MNIST.
    """

    name = "mnist"
    folder = "MNIST"
    classes = tuple(str(d) for d in range(10))
    mean = (0.1307,)
    std = (0.3081,)
    input_shape = (1, 28, 28)
    train_size = 60_000
    augmentation = RandomAffine()
    md5: ClassVar[dict[str, str]] = {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    }
    # Where `download=True` fetches `<name>.gz` from, in order (torchvision's mirrors).
    mirrors: ClassVar[tuple[str, ...]] = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )

    @property
    def raw_dir(self) -> Path:
        """Where the four IDX files live (torchvision's layout)."""
        return self.data_dir / self.folder / "raw"

    offline_hint = "the copy bundled with zoo is missing: reinstall zoo"
    refetch_hint = "zoo unpacks its bundled copy again"

    def local_source(self) -> Path | None:
        """A directory of gzip'd originals available without a network, if any."""
        return _bundled_mnist_dir()

    def _present(self, name: str) -> Path | None:
        for candidate in (self.raw_dir / name, self.raw_dir / f"{name}.gz"):
            if candidate.is_file():
                return candidate
        return None

    def fetch(self) -> None:
        """Unpack the verified local originals, or download with `download=True`.

        Every file is written whole or not at all; a full, read-only or blocked `data_dir` is
        one `ZooError` naming it.
        """
        missing = [n for n in (*FILES, *TEST_FILES) if self._present(n) is None]
        if not missing:
            return
        try:
            self._clean_leftovers()
            source = self.local_source()
            if source is not None and all((source / f"{n}.gz").is_file() for n in missing):
                for name in missing:
                    unpack_verified(source / f"{name}.gz", self.raw_dir / name, self.md5[name])
            elif self.download:
                for name in missing:
                    self._download(name)
            else:
                raise BadInput(
                    f"{self.name}: {', '.join(missing)} not found in {self.raw_dir} "
                    f"({self.offline_hint})",
                    "pass --data.download true (needs a network) or add the files",
                )
        except OSError as error:
            raise self.data_dir_fault(error) from None

    def _clean_leftovers(self) -> None:
        """Remove the temporary files of an unpacking or download that was killed."""
        if not self.raw_dir.is_dir():
            return
        for part in self.raw_dir.glob(".*.part"):
            with contextlib.suppress(OSError):  # gone already, or a folder not ours to clean
                if time.time() - part.stat().st_mtime > STALE_PART_S:
                    part.unlink()

    def _download(self, name: str) -> None:
        """`<name>.gz` from the first mirror that gives a good copy, unpacked and verified."""
        self.raw_dir.mkdir(parents=True, exist_ok=True)
        failures = []
        for mirror in self.mirrors:
            url = f"{mirror}{name}.gz"
            fd, tmp = tempfile.mkstemp(dir=self.raw_dir, prefix=f".{name}.gz.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    problem = _fetch(url, out)
                if problem is None:
                    try:
                        unpack_verified(Path(tmp), self.raw_dir / name, self.md5[name], "it")
                        return
                    except BadInput as error:
                        problem = error.what
                failures.append(f"{url}: {problem}")
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        raise RunFailed(
            f"{self.name}: cannot download {name}.gz ({'; '.join(failures)})",
            f"check the network, or put the files in {self.raw_dir}",
        )

    def load_official(self) -> tuple[Split, Split]:
        """Read the official training and test splits, each file checked against its MD5."""
        return self._read(*FILES), self._read(*TEST_FILES)

    def _read(self, images_name: str, labels_name: str) -> Split:
        paths = [self._present(n) for n in (images_name, labels_name)]
        if paths[0] is None or paths[1] is None:
            raise BadInput(
                f"{self.name}: {images_name}/{labels_name} missing in {self.raw_dir}",
                "call prepare_data() first (Trainer does this for you)",
            )
        fix = f"delete it and {self.refetch_hint} (or point --data.data_dir elsewhere)"
        images = read_idx(paths[0], self.md5[images_name], fix)
        labels = read_idx(paths[1], self.md5[labels_name], fix)
        if images.ndim != 3 or images.shape[1:] != self.input_shape[1:]:
            raise BadInput(
                f"{paths[0]} holds images of shape {tuple(images.shape[1:])}, not 28×28", fix
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise BadInput(f"{paths[1]} has {tuple(labels.shape)} labels for {len(images)} "
                           "images", fix)  # fmt: skip
        return images.unsqueeze(1), labels.to(torch.int64)


def _fetch(url: str, out: object) -> str | None:
    """Copy `url` into the open file `out`; what went wrong with the network, or None.

    Errors writing `out` (a full or read-only disk) are raised: they are not the mirror's.
    """
    try:
        response = urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S)
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code} {error.reason}"
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        return str(getattr(error, "reason", None) or error)
    written = 0
    promised = response.headers.get("Content-Length", "")
    with response:
        while True:
            try:
                block = response.read(CHUNK)
            except (http.client.HTTPException, OSError) as error:
                return f"the transfer broke off ({error!r})"
            if not block:
                if promised.isdigit() and written != int(promised):
                    return f"the transfer broke off after {written:,} of {int(promised):,} bytes"
                return None
            written += len(block)
            if written > MAX_DOWNLOAD_BYTES:
                return f"over {MAX_DOWNLOAD_BYTES:,} bytes, larger than any original"
            out.write(block)  # type: ignore[attr-defined]


class FashionMNISTDataModule(MNISTDataModule):
    """The real Fashion-MNIST (Xiao, Rasul, Vollgraf 2017; MIT), same API as `MNISTDataModule`.

    Offline it reads Debian's package (`apt-get install dataset-fashion-mnist`).
    """

    name = "fashion_mnist"
    folder = "FashionMNIST"
    classes = (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )  # fmt: skip
    mean = (0.2860,)
    std = (0.3530,)
    debian_dir = Path("/usr/share/datasets/fashion-mnist")
    offline_hint = "for an offline copy: apt-get install dataset-fashion-mnist"
    refetch_hint = (
        "zoo copies it again from Debian's dataset-fashion-mnist or, with --data.download "
        "true, downloads it"
    )
    mirrors: ClassVar[tuple[str, ...]] = (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    )
    md5: ClassVar[dict[str, str]] = {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    }

    def local_source(self) -> Path | None:
        """Debian's `dataset-fashion-mnist` files, when installed."""
        return self.debian_dir if self.debian_dir.is_dir() else None
