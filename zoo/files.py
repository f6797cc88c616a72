"""File helpers every package shares: checksums, and writes that are whole or absent."""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

CHUNK = 1 << 20
PART_SUFFIX = ".part"
"""The suffix of a file being written; only a crash leaves one behind."""


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
    """Write `payload` to `path` whole or not at all (see `atomic_writer`)."""
    with atomic_writer(path) as out:
        out.write(payload)


@contextmanager
def atomic_writer(path: str | Path) -> Iterator[BinaryIO]:
    """A file to write that appears at `path` only once it is complete and on disk.

    It is a temporary file next to `path`, flushed, fsync'ed and renamed over `path`, and the
    rename is fsync'ed too: after a crash, a full disk or an exception in the `with` block a
    reader finds the old file or the new one, never half of one, and no temporary is left.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PART_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        give_default_mode(tmp)
        os.replace(tmp, path)
        fsync_directory(path.parent)
    except OSError as err:
        if err.filename is None:  # a failed write names no file: say which one
            raise OSError(err.errno, err.strerror, str(path)) from err
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_figure(figure: Any, path: str | Path, dpi: int = 100) -> Path:
    """Save a matplotlib figure to `path` whole or not at all (format from the suffix)."""
    path = Path(path)
    with atomic_writer(path) as out:
        figure.savefig(out, format=path.suffix.lstrip(".") or "png", dpi=dpi)
    return path


def fsync_directory(path: str | Path) -> None:
    """Make a rename or unlink in `path` durable (the directory entry itself is on disk)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
        # Some file systems cannot sync a folder; the rename is done all the same.
    finally:
        os.close(fd)


def give_default_mode(path: str | Path) -> None:
    """Give a file from `mkstemp` (private, 0600) the permissions of a normally created file."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)
