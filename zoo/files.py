"""File helpers every package shares: checksums, and writes that are whole or absent."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

CHUNK = 1 << 20


def file_digest(path: str | Path, algorithm: str) -> str:
    """The lower-case hex digest of a file (`"sha256"`, `"md5"`, …), read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        while block := file.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: str | Path) -> str:
    """The SHA-256 of a file, lower-case hex."""
    return file_digest(path, "sha256")


def md5_of(path: str | Path) -> str:
    """The MD5 of a file, lower-case hex (the checksum the MNIST files are published with)."""
    return file_digest(path, "md5")


def atomic_write(path: Path, payload: bytes) -> None:
    """Write `payload` to a temporary file next to `path`, then rename it over `path`.

    A reader sees the old file or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
        give_default_mode(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def give_default_mode(path: str | Path) -> None:
    """Give a file from `mkstemp` (private, 0600) the permissions of a normally created file."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
