"""`zoo.files`: writes that are whole or absent, on real full and read-only file systems."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from helpers.filesystems import fill, small_filesystem

from zoo.files import atomic_write, atomic_writer


def test_a_write_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "table.json"
    atomic_write(path, b"old")
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new" and sorted(path.parent.iterdir()) == [path]


def test_an_exception_while_writing_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    atomic_write(path, b"old")
    with pytest.raises(KeyboardInterrupt), atomic_writer(path) as out:
        out.write(b"half of the new")
        raise KeyboardInterrupt
    assert path.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [path]


def test_a_full_disk_keeps_the_old_file_and_names_the_path(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "disk") as disk:
        path = disk / "plot.png"
        atomic_write(path, b"old")
        fill(disk)
        with pytest.raises(OSError) as raised:
            atomic_write(path, b"x" * 100_000)
        assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(path)
        assert path.read_bytes() == b"old"
        assert not [p for p in disk.iterdir() if p.name.endswith(".part")]
