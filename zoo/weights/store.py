"""Finding, downloading and verifying the file of a published weight, and reading its tensors.

A bundled file is read where the package keeps it. A weight that is not bundled is downloaded
once into torch's hub cache (`torch.hub.get_dir()/checkpoints`, moved by `TORCH_HOME`): into a
temporary file in that directory, checked against the table's size and SHA-256, then renamed,
so a failed or tampered download never stays in the cache. Files are safetensors; nothing is
unpickled. Building a model from the tensors is `zoo.hub`'s job.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from torch import Tensor

from zoo.files import CHUNK, give_default_mode, sha256_of
from zoo.weights.table import Weight, WeightError, WeightTable, bundled_files_dir

# How to get a bundled file back: it came with the package (or the clone).
REINSTALL = (
    "reinstall zoo (pip install --force-reinstall --no-deps zoo), or in a clone of the "
    "repository restore the file: git checkout -- zoo/weights/published"
)


def file_problem(path: Path, weight: Weight) -> str | None:
    """What is wrong with `path` as `weight`'s file (size, then SHA-256), or None."""
    size = path.stat().st_size
    if size != weight.size:
        return f"has {size} bytes, not the {weight.size} of {weight.key}"
    actual = sha256_of(path)
    if actual != weight.sha256:
        return f"has SHA-256 {actual}, not the {weight.sha256} of {weight.key}"
    return None


def verify_file(path: Path, weight: Weight, fix: str = REINSTALL) -> None:
    """Raise `WeightError` (saying `fix`) unless `path` has the size and SHA-256 the table
    records."""
    problem = file_problem(path, weight)
    if problem is not None:
        what = f"{path} {problem}: the file is truncated, corrupted or another weight"
        raise WeightError(what, fix)


def restore_hint(table: WeightTable, weight: Weight) -> str:
    """How to get a damaged or missing file of `table` back: reinstall zoo for a bundled one."""
    if table.files_dir.resolve() == bundled_files_dir():
        return REINSTALL
    return f"publish {weight.key} again into {table.files_dir}, or restore the file from a backup"


def hub_cache_dir() -> Path:
    """`torch.hub.get_dir()/checkpoints`: where downloaded weights are kept."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def weight_file(weight: Weight, table: WeightTable, download: bool = True) -> Path:
    """The verified local file of `weight`: bundled, cached, or downloaded now."""
    bundled = table.file_path(weight)
    if bundled.is_file():
        verify_file(bundled, weight, restore_hint(table, weight))
        return bundled
    if weight.url is None:
        raise WeightError(
            f"{weight.file} is missing from {table.files_dir} and has no download URL",
            restore_hint(table, weight),
        )
    cached = hub_cache_dir() / weight.file
    if cached.is_file():
        try:
            verify_file(cached, weight)
            return cached
        except WeightError:
            cached.unlink()  # a damaged cache entry is replaced by a fresh download
    if not download:
        raise WeightError(
            f"{weight.key} is not bundled and not in the cache {cached.parent}; allow the "
            f"download, or fetch {weight.url} to {cached} yourself"
        )
    download_verified(weight.url, cached, weight)
    return cached


def download_verified(url: str, target: Path, weight: Weight, timeout: float = 60.0) -> None:
    """Download `url` to `target` through a temporary file, keeping it only if it verifies."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            _fetch(url, out, weight, timeout, target)
        problem = file_problem(Path(tmp), weight)
        if problem is not None:
            raise WeightError(
                f"the download of {weight.key} from {url} {problem} (truncated, tampered with or "
                "another file); nothing was cached"
            )
        check_header(Path(tmp), weight)
        give_default_mode(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fetch(url: str, out: BinaryIO, weight: Weight, timeout: float, target: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            received = 0
            while block := response.read(CHUNK):
                received += len(block)
                if received > weight.size:
                    raise WeightError(
                        f"the download of {weight.key} from {url} is larger than its "
                        f"{weight.size} bytes: not this weight; nothing was cached"
                    )
                out.write(block)
    except (urllib.error.URLError, OSError) as err:
        raise WeightError(
            f"could not download {weight.key} from {url} ({err}); without a network, fetch it "
            f"elsewhere and put it at {target} (SHA-256 {weight.sha256})"
        ) from None


def check_header(path: Path, weight: Weight) -> None:
    """Raise `WeightError` unless the safetensors header of `path` names `weight`'s model."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as file:
            owner = (file.metadata() or {}).get("zoo_weight", "")
    except SafetensorError as err:
        raise WeightError(f"{path} is not a valid safetensors file ({err})", REINSTALL) from None
    owner = owner.split(".", 1)[0] or None
    if owner != weight.model:
        raise WeightError(
            f"{path}, the file of {weight.key}, holds weights for model {owner!r}, not "
            f"{weight.model!r}: the table points at the wrong file; nothing was loaded",
            REINSTALL,
        )


def read_state_dict(path: Path, weight: Weight) -> dict[str, Tensor]:
    """The tensors of a verified file whose header says it holds `weight`'s model."""
    check_header(path, weight)
    try:
        return load_file(str(path), device="cpu")
    except SafetensorError as err:
        raise WeightError(f"{path} is not a valid safetensors file ({err})", REINSTALL) from None
