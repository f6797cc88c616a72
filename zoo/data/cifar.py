"""CIFAR-10: 50,000 training and 10,000 test 32×32 colour images, 10 classes (lectures 10–11).

The files keep torchvision's layout, `<data_dir>/cifar-10-batches-py/{data_batch_1..5,
test_batch,batches.meta}`, so a directory torchvision already filled is used as is. The batches
are Python 2 pickles; they are read with `zoo.data.safe_pickle`, which refuses any file that
references more than numpy arrays, so a tampered download cannot run code.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo.data.augment import RandomCropFlip
from zoo.data.base import ImageDataModule, Split
from zoo.data.safe_pickle import RefusedGlobalError, load_restricted
from zoo.errors import BadInput

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
FILES = (*TRAIN_FILES, TEST_FILE, META_FILE)
ARCHIVE_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
PIXELS = 3 * 32 * 32


class CIFAR10DataModule(ImageDataModule):
    """The real CIFAR-10 (Krizhevsky 2009), read from the official "python version" batches.

    See `ImageDataModule` for the arguments. `augment=True` pads training images by 4 pixels,
    crops them back to 32×32 at a random offset and flips half of them horizontally.
    """

    name = "cifar10"
    classes = (
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    )  # fmt: skip
    mean = (0.4914, 0.4822, 0.4465)
    std = (0.2470, 0.2435, 0.2616)
    input_shape = (3, 32, 32)
    train_size = 50_000
    augmentation = RandomCropFlip(padding=4)

    @property
    def batches_dir(self) -> Path:
        """Where the six batch files and `batches.meta` live (torchvision's layout)."""
        return self.data_dir / FOLDER

    def missing_files(self) -> list[str]:
        """The names of the expected files that are not in `batches_dir`."""
        return [name for name in FILES if not (self.batches_dir / name).is_file()]

    def fetch(self) -> None:
        """Use the batches where present; otherwise download them if allowed."""
        missing = self.missing_files()
        if missing and not self.download:
            raise BadInput(
                f"{self.name}: {', '.join(missing)} not found in {self.batches_dir}",
                f"extract {ARCHIVE_URL} so that its '{FOLDER}' folder is {self.batches_dir}, "
                "or pass --data.download true (needs a network)",
            )
        if missing:
            try:
                self._download()
            except OSError as error:
                raise self.data_dir_fault(error) from None

    def _download(self) -> None:
        from torchvision.datasets.utils import download_and_extract_archive

        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Download and unpack beside the target and move the files in one by one, so an
        # interrupted download or extraction never leaves a half-written file where
        # `load_official` would read it, and the 163 MB archive goes with the folder.
        with tempfile.TemporaryDirectory(dir=self.data_dir, prefix=".cifar10-") as tmp:
            download_and_extract_archive(
                ARCHIVE_URL, download_root=tmp, extract_root=tmp, md5=ARCHIVE_MD5
            )
            self.batches_dir.mkdir(exist_ok=True)
            for name in FILES:
                os.replace(Path(tmp) / FOLDER / name, self.batches_dir / name)

    def load_official(self) -> tuple[Split, Split]:
        """Read the five training batches and the test batch, checking every file."""
        self._check_label_names()
        return self._read_batches(TRAIN_FILES), self._read_batches((TEST_FILE,))

    def _unpickle(self, name: str) -> Any:
        path = self.batches_dir / name
        if not path.is_file():
            raise BadInput(
                f"{self.name}: {path} is missing",
                "call prepare_data() first (Trainer does this for you) or pass "
                "--data.download true",
            )
        try:
            return load_restricted(path)
        except RefusedGlobalError as err:
            raise self._bad_file(path, f"not a genuine CIFAR-10 file ({err})") from err
        except OSError:
            raise
        except Exception as err:
            # Malformed input can make the unpickler fail in many ways (EOFError, IndexError, …).
            raise self._bad_file(path, f"truncated or corrupt ({err!r})") from err

    def _bad_file(self, path: Path, problem: str) -> BadInput:
        """The error for any damaged file: what is wrong with it and how to get a good copy."""
        return BadInput(
            f"{path}: {problem}",
            f"delete {self.batches_dir} and fetch CIFAR-10 again (--data.download true)",
        )

    def _check_label_names(self) -> None:
        path = self.batches_dir / META_FILE
        meta = self._unpickle(META_FILE)
        names = meta.get(b"label_names") if isinstance(meta, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, bytes) for n in names):
            raise self._bad_file(path, "no b'label_names' list of class names")
        decoded = tuple(n.decode("latin1") for n in names)
        if decoded != self.classes:
            raise self._bad_file(path, f"class names {decoded} are not CIFAR-10's {self.classes}")

    def _read_batches(self, names: Sequence[str]) -> Split:
        batches = [self._read_batch(name) for name in names]
        images = np.ascontiguousarray(np.concatenate([data for data, _ in batches]))
        labels = np.concatenate([labels for _, labels in batches])
        # CIFAR stores each image as 1024 red, then 1024 green, then 1024 blue values, each plane
        # row-major, which is exactly the memory layout of a (3, 32, 32) tensor.
        x = torch.from_numpy(images).view(-1, *self.input_shape)
        return x, torch.from_numpy(labels).to(torch.int64)

    def _read_batch(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        path = self.batches_dir / name
        batch = self._unpickle(name)
        for key in (b"data", b"labels"):
            if not isinstance(batch, dict) or key not in batch:
                raise self._bad_file(path, f"no {key!r} entry, so not a CIFAR-10 batch")
        data = batch[b"data"]
        if not isinstance(data, np.ndarray):
            raise self._bad_file(path, f"b'data' is a {type(data).__name__}, not a numpy array")
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
            raise self._bad_file(
                path,
                f"b'data' is a {data.dtype} array of shape {data.shape}, "
                f"not uint8 of shape (N, {PIXELS}) (one 3×32×32 image per row)",
            )
        labels = np.asarray(batch[b"labels"])
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise self._bad_file(path, "b'labels' is not a flat list of integers")
        if len(labels) != len(data):
            raise self._bad_file(path, f"{len(data)} images but {len(labels)} labels")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise self._bad_file(path, f"labels span {labels.min()}..{labels.max()}, not 0..9")
        return data, labels
