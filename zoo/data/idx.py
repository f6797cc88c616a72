"""Reading the IDX files that MNIST and Fashion-MNIST are published in.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the raw data. Only unsigned bytes (type 0x08) occur in
these datasets, so only those are accepted.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

UBYTE = 0x08


def read_idx(path: str | Path) -> Tensor:
    """Read an IDX file (optionally gzip'd, by the `.gz` suffix) into a uint8 tensor."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise ValueError(
            f"{path} is not a readable IDX file ({err}); delete it and re-fetch"
        ) from err
    return parse_idx(data, name=str(path))


def parse_idx(data: bytes, name: str = "IDX data") -> Tensor:
    """Parse the bytes of an IDX file, checking the magic number and the declared size."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != UBYTE:
        raise ValueError(
            f"{name} is not an unsigned-byte IDX file (wrong magic number {data[:4].hex()!r}); "
            "is it the right file, or a corrupted/HTML download? Delete it and re-fetch"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name} is truncated inside its header; delete it and re-fetch")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape)) if shape else 0
    if len(data) - header != expected:
        raise ValueError(
            f"{name} declares shape {shape} ({expected} bytes) but holds {len(data) - header} "
            "bytes of data: the file is truncated or corrupted; delete it and re-fetch"
        )
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
    return torch.from_numpy(array.copy())
