"""`zoo predict` on paths that are not plain image files: devices, FIFOs, links, loops of links.

The device and FIFO cases run the real `zoo predict` in a subprocess under a memory limit and a
timeout: reading /dev/zero to the end, or opening a FIFO that nobody writes to, fails the test
by the limit or the timeout instead of taking the machine down or hanging the suite.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.image_files import write_variant

from zoo.cli import main
from zoo.inference.imaging import ImageError, read_file

# Enough for torch, the model and one 50 MiB file; far less than /dev/zero read to the end.
MEMORY_LIMIT = 6 * 2**30
TIMEOUT_S = 120


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def python_limited(script: str) -> subprocess.CompletedProcess[str]:
    """`python -c SCRIPT` under `MEMORY_LIMIT`, killed after `TIMEOUT_S`: a regression that
    reads a device to the end or globs for ever fails the test, not the machine."""
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, timeout=TIMEOUT_S, preexec_fn=_limit_memory,
    )  # fmt: skip


def zoo_predict(*argv: str) -> subprocess.CompletedProcess[str]:
    """`zoo predict ARGV…` in a subprocess under `MEMORY_LIMIT`, killed after `TIMEOUT_S`."""
    return subprocess.run(
        [sys.executable, "-m", "zoo", "predict", *argv],
        capture_output=True, text=True, timeout=TIMEOUT_S, preexec_fn=_limit_memory,
    )  # fmt: skip


@pytest.fixture
def digit_png(digits, tmp_path: Path) -> tuple[Path, int]:
    """A real MNIST test digit as a PNG photo, and its label."""
    images, labels = digits
    return write_variant(images[0], "grey-png", tmp_path / "good"), int(labels[0])


def test_torch_imports_under_the_memory_limit() -> None:
    # Without this, a limit too tight for torch would fail the tests below for the wrong reason.
    done = subprocess.run(
        [sys.executable, "-c", "import torch, zoo.inference.predict; print('ok')"],
        capture_output=True, text=True, timeout=TIMEOUT_S, preexec_fn=_limit_memory,
    )  # fmt: skip
    assert done.stdout.strip() == "ok", done.stderr


def test_dev_zero_and_a_fifo_are_skipped_and_the_good_file_predicted(
    digit_png: tuple[Path, int], tmp_path: Path
) -> None:
    good, label = digit_png
    zero = tmp_path / "zero.png"
    zero.symlink_to("/dev/zero")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # no writer: a blocking open would wait for ever
    done = zoo_predict("resnet_mnist", str(zero), str(fifo), str(good), "-k", "1")
    assert done.returncode == 1, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith(f"{good}: {label} ")
    assert done.stderr.splitlines() == [
        f"{zero}: error: not a regular file but a character device (a link to /dev/zero) — "
        "give a PNG, JPEG, BMP or WebP file",
        f"{fifo}: error: not a regular file but a named pipe (FIFO) — give a PNG, JPEG, BMP or "
        "WebP file",
    ]


def test_a_char_device_named_directly_is_refused_without_reading_it() -> None:
    script = """if True:
        from zoo.inference.imaging import ImageError, read_image
        for device in ("/dev/zero", "/dev/urandom"):
            try:
                read_image(device)
            except ImageError as error:
                print(error)
    """
    done = python_limited(script)
    assert (
        done.stdout.splitlines()
        == ["not a regular file but a character device — give a PNG, JPEG, BMP or WebP file"] * 2
    ), done.stderr


def test_the_byte_limit_holds_for_a_file_whose_size_says_nothing(tmp_path: Path) -> None:
    # /proc files are regular files of size 0 with content: only the read itself can stop.
    assert os.stat("/proc/self/maps").st_size == 0
    with pytest.raises(ImageError, match="over the 16-byte limit"):
        read_file(Path("/proc/self/maps"), 16)
    exact = tmp_path / "sixteen"
    exact.write_bytes(b"x" * 16)
    assert read_file(exact, 16) == b"x" * 16


def test_a_loop_of_links_gives_each_file_once(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.png").write_bytes(b"")
    # Two links to the parent: glob.glob lists each file 2^40 times (it never ends).
    (tmp_path / "sub" / "up").symlink_to("..")
    (tmp_path / "sub" / "up2").symlink_to("..")
    (tmp_path / "link.png").symlink_to("a.png")
    (tmp_path / "hard.png").hardlink_to(tmp_path / "sub" / "b.png")
    pattern = str(tmp_path / "**" / "*.png")
    script = "import json; from zoo.inference.predict import expand_sources; "
    done = python_limited(script + f"print(json.dumps(expand_sources([{pattern!r}])))")
    found = [Path(p).relative_to(tmp_path).as_posix() for p in json.loads(done.stdout)]
    assert sorted(found) == ["a.png", "hard.png"], done.stderr


def test_a_loop_glob_predicts_each_file_once(digit_png, tmp_path: Path, capsys) -> None:
    good, _ = digit_png
    (tmp_path / "loop").symlink_to(".")
    assert main(["predict", "resnet_mnist", str(tmp_path / "**" / "*.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[0] for line in lines] == [str(good)]


def test_a_directory_says_which_entries_it_skipped(digit_png, tmp_path: Path, capsys) -> None:
    good, _ = digit_png
    (tmp_path / "dangling.png").symlink_to("nowhere.png")
    (tmp_path / "null.jpg").symlink_to("/dev/null")
    os.mkfifo(tmp_path / "pipe.bmp")
    (tmp_path / "self.webp").symlink_to("self.webp")
    (tmp_path / "notes.txt").symlink_to("nowhere.txt")  # not an image name: not a skipped image
    assert main(["predict", "resnet_mnist", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert [line.split(": ")[0] for line in out.splitlines()] == [str(good)]
    assert err.splitlines() == [
        f"{tmp_path / 'dangling.png'}: error: broken symbolic link (to nowhere.png, which does "
        "not exist)",
        f"{tmp_path / 'null.jpg'}: error: not a regular file but a character device (a link to "
        "/dev/null) — give a PNG, JPEG, BMP or WebP file",
        f"{tmp_path / 'pipe.bmp'}: error: not a regular file but a named pipe (FIFO) — give a "
        "PNG, JPEG, BMP or WebP file",
        f"{tmp_path / 'self.webp'}: error: a loop of symbolic links — check where the links point",
    ]
