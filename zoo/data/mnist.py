"""MNIST and Fashion-MNIST: 60,000 training and 10,000 test 28×28 grey images, 10 classes.

The files keep torchvision's layout (`<data_dir>/MNIST/raw/train-images-idx3-ubyte`, …), so a
directory torchvision already filled is used as is. Where files are missing they come from a
local source (MNIST ships inside this package; Fashion-MNIST from Debian's
`dataset-fashion-mnist`), are checked against the published MD5s, and written atomically; only
with `download=True` does torchvision fetch them from the internet.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import ClassVar

import torch

from zoo.data.augment import RandomAffine
from zoo.data.base import ImageDataModule, Split
from zoo.data.idx import read_idx
from zoo.files import md5_of

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _bundled_mnist_dir() -> Path:
    return Path(str(resources.files("zoo.data") / "assets" / "mnist"))


def unpack_verified(source: Path, target: Path, md5: str) -> None:
    """Gunzip `source` to `target` through a temporary file, keeping it only if the MD5 matches."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, gzip.open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        actual = md5_of(tmp)
        if actual != md5:
            raise ValueError(
                f"{source} unpacks to data with MD5 {actual}, not the published {md5}: the source "
                "file is corrupted; reinstall it or use download=True"
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class MNISTDataModule(ImageDataModule):
    """The real MNIST (LeCun, Cortes, Burges; CC BY-SA 3.0), offline by default.

    See `ImageDataModule` for the arguments. `augment=True` adds small random rotations, shifts
    and zooms to training batches.
    """

    name = "mnist"
    folder = "MNIST"
    classes = tuple(str(d) for d in range(10))
    mean = (0.1307,)
    std = (0.3081,)
    input_shape = (1, 28, 28)
    augmentation = RandomAffine()
    md5: ClassVar[dict[str, str]] = {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    }

    @property
    def raw_dir(self) -> Path:
        """Where the four IDX files live (torchvision's layout)."""
        return self.data_dir / self.folder / "raw"

    offline_hint = "the copy bundled with zoo is missing: reinstall zoo"

    def local_source(self) -> Path | None:
        """A directory of gzip'd originals available without a network, if any."""
        return _bundled_mnist_dir()

    def _present(self, name: str) -> Path | None:
        for candidate in (self.raw_dir / name, self.raw_dir / f"{name}.gz"):
            if candidate.is_file():
                return candidate
        return None

    def fetch(self) -> None:
        """Unpack the verified local originals, or download with torchvision if allowed."""
        missing = [n for n in (*FILES, *TEST_FILES) if self._present(n) is None]
        if not missing:
            return
        source = self.local_source()
        if source is not None and all((source / f"{n}.gz").is_file() for n in missing):
            for name in missing:
                unpack_verified(source / f"{name}.gz", self.raw_dir / name, self.md5[name])
        elif self.download:
            self._download()
        else:
            raise FileNotFoundError(
                f"{self.name}: {', '.join(missing)} not found in {self.raw_dir} "
                f"({self.offline_hint}). Pass download=True (needs a network) or add the files"
            )

    def _download(self) -> None:
        from torchvision import datasets

        getattr(datasets, self.folder)(root=str(self.data_dir), train=True, download=True)

    def load_official(self) -> tuple[Split, Split]:
        """Read the official training and test splits."""
        return self._read(*FILES), self._read(*TEST_FILES)

    def _read(self, images_name: str, labels_name: str) -> Split:
        paths = [self._present(n) for n in (images_name, labels_name)]
        if None in paths:
            raise FileNotFoundError(
                f"{self.name}: {images_name}/{labels_name} missing in {self.raw_dir}; "
                "call prepare_data() first (Trainer does this for you)"
            )
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if images.ndim != 3 or images.shape[1:] != self.input_shape[1:]:
            raise ValueError(
                f"{paths[0]} holds images of shape {tuple(images.shape[1:])}, not 28×28"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(f"{paths[1]} has {labels.shape} labels for {len(images)} images")
        return images.unsqueeze(1), labels.to(torch.int64)


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
    md5: ClassVar[dict[str, str]] = {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    }

    def local_source(self) -> Path | None:
        """Debian's `dataset-fashion-mnist` files, when installed."""
        return self.debian_dir if self.debian_dir.is_dir() else None
