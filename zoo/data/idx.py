"""Reading the IDX files that MNIST and Fashion-MNIST are published in.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the raw data. Only unsigned bytes (type 0x08) occur in
these datasets, so only those are accepted.

A damaged file (truncated, corrupt gzip, an HTML error page, a header whose sizes lie) is one
`BadInput` naming the file. The header's size is checked against what the file holds before
the data is read, and a gzip'd file is never decompressed beyond what its header declares, so
a lying header cannot make the reader allocate more than the file's real contents.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch import Tensor

from zoo.errors import BadInput

UBYTE = 0x08
CHUNK = 1 << 20
# Far above the largest IDX file of these datasets (47 MB): a header declaring more is a lie.
MAX_DATA_BYTES = 1 << 30
DEFAULT_FIX = "delete it and fetch the dataset again (or check --data.data_dir)"


def read_idx(path: str | Path, md5: str | None = None, fix: str = DEFAULT_FIX) -> Tensor:
    """Read an IDX file (gzip'd if its name ends in `.gz`) into a uint8 tensor.

    `md5`, if given, is the published MD5 of the uncompressed data, checked before it is
    used. `BadInput` names the file and says how to fix it (`fix`); a missing or unreadable
    file raises the `OSError` (zoo's error boundary says what to do about it).
    """
    path = Path(path)
    with open(path, "rb") as raw:
        if path.suffix == ".gz":
            try:
                with gzip.GzipFile(fileobj=raw) as unpacked:
                    data = _read_declared(unpacked, str(path), fix, size_hint=None)
            except (gzip.BadGzipFile, EOFError, zlib.error) as error:
                raise BadInput(
                    f"{path} is not a readable gzip'd IDX file ({error or 'truncated'})", fix
                ) from None
        else:
            data = _read_declared(raw, str(path), fix, size_hint=path.stat().st_size)
    array = _parse(data, str(path), fix)
    if md5 is not None:
        actual = hashlib.md5(data).hexdigest()
        if actual != md5:
            raise BadInput(
                f"{path} has MD5 {actual}, not the published {md5}: the file is corrupted "
                "or another dataset's",
                fix,
            )
    return torch.from_numpy(array.copy())


def parse_idx(data: bytes, name: str = "IDX data", fix: str = DEFAULT_FIX) -> Tensor:
    """Parse the bytes of an IDX file, checking the magic number and the declared size."""
    return torch.from_numpy(_parse(data, name, fix).copy())


def _header(data: bytes, name: str, fix: str) -> tuple[int, tuple[int, ...]]:
    """(header length, shape) of IDX bytes that hold at least the whole header."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != UBYTE:
        raise BadInput(
            f"{name} is not an unsigned-byte IDX file (magic number {data[:4].hex()!r}, not "
            f"'0000080N'): a corrupted file, or an HTML page saved by a failed download",
            fix,
        )
    header = 4 + 4 * data[3]
    if len(data) < header:
        raise BadInput(f"{name} is truncated inside its header", fix)
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=data[3], offset=4))
    return header, shape


def _read_declared(file: BinaryIO, name: str, fix: str, size_hint: int | None) -> bytes:
    """The bytes of an IDX file, read only as far as its header declares (and one byte more,
    to tell a file with extra bytes); `size_hint`, the file's size where known, is checked
    against the header before any data is read."""
    data = bytearray(file.read(4))
    if len(data) == 4 and data[:3] == bytes([0, 0, UBYTE]):
        data += file.read(4 * data[3])
    header, shape = _header(bytes(data), name, fix)
    declared = math.prod(shape)  # exact: no overflow however large the header's sizes
    if declared > MAX_DATA_BYTES:
        raise BadInput(
            f"{name} declares shape {shape}, {declared:,} bytes: more than any dataset zoo "
            f"reads ({MAX_DATA_BYTES:,}), so its header is corrupted",
            fix,
        )
    if size_hint is not None and size_hint - header != declared:
        raise _size_mismatch(name, fix, shape, declared, size_hint - header)
    while len(data) - header <= declared:
        block = file.read(min(CHUNK, declared + 1 - (len(data) - header)))
        if not block:
            break
        data += block
    return bytes(data)


def _parse(data: bytes, name: str, fix: str) -> np.ndarray:
    header, shape = _header(data, name, fix)
    declared = math.prod(shape)
    if len(data) - header != declared:
        raise _size_mismatch(name, fix, shape, declared, len(data) - header)
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _size_mismatch(
    name: str, fix: str, shape: tuple[int, ...], declared: int, held: int
) -> BadInput:
    holds = "more than that" if held > declared else f"only {held:,}"
    return BadInput(
        f"{name} declares shape {shape} ({declared:,} bytes of data) but holds {holds}: "
        "the file is truncated or corrupted",
        fix,
    )
