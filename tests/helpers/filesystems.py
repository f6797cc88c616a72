"""Real faulty file systems for the fault tests: a tiny full one, and a read-only one.

Both are tmpfs mounts (root, or a user namespace where the kernel allows one, is needed); where
the machine cannot mount, the test is skipped with the reason, loudly, rather than faked.
A read-only folder is a read-only mount, not `chmod`: root, which CI runs as, ignores mode bits.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(target: Path, options: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"SKIPPED LOUDLY: cannot mount a tmpfs here ({done.stderr.strip()})")


def _unmount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], check=True)


@contextmanager
def small_filesystem(target: Path, size_kib: int = 64) -> Iterator[Path]:
    """`target` becomes an empty file system of `size_kib` KiB for the `with` block."""
    _mount(target, f"size={size_kib}k")
    try:
        yield target
    finally:
        _unmount(target)


def fill(folder: Path) -> None:
    """Fill the file system holding `folder` until not one byte more fits."""
    for name, block in (("ballast", 4096), ("ballast-tail", 1)):
        with open(folder / name, "wb", buffering=0) as ballast:
            try:
                while ballast.write(b"\0" * block):
                    pass
            except OSError:
                pass


@contextmanager
def read_only_folder(target: Path, files: dict[str, bytes] | None = None) -> Iterator[Path]:
    """`target` becomes a read-only file system holding `files` (name → bytes)."""
    _mount(target, "size=4m")
    try:
        for name, data in (files or {}).items():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(data)
        subprocess.run(["mount", "-o", "remount,ro", str(target)], check=True)
        yield target
    finally:
        _unmount(target)
