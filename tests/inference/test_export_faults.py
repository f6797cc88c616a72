"""`zoo export` when the world fails it: a killed process, a full or read-only file system, an
output path through a file, a checkpoint of the wrong model.

The crash tests SIGKILL a real `zoo export` subprocess at each step of its write (the test-only
`ZOO_TEST_KILL_AT` hook, and strace's syscall fault injection on the rename and the fsyncs):
afterwards the destination is the old file or the complete new one, and the next export
succeeds and leaves no `.part` file behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers.filesystems import fill, read_only_folder, small_filesystem

from zoo.cli import main
from zoo.hub import create_model
from zoo.inference.export import KILL_AT_ENV, WRITE_STEPS, remove_leftovers

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")

OLD = b"the export of yesterday"
ARGV = ("softmax_mnist", "--format", "torchscript", "--force")
TIMEOUT_S = 300


def run_cli(*argv: str) -> tuple[int, str, str]:
    """`zoo export ARGV…` in this process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["export", *argv])
    return code, out.getvalue(), err.getvalue()


def export_process(output: Path, env: dict[str, str], prefix: tuple[str, ...] = ()) -> int:
    """`zoo export` of softmax_mnist to `output` in a subprocess; its return code."""
    command = [*prefix, sys.executable, "-m", "zoo", "export", *ARGV, "-o", str(output)]
    done = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, timeout=TIMEOUT_S
    )
    return done.returncode


def parts(folder: Path) -> list[str]:
    """The `.part` files in `folder`."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def is_new_export(path: Path) -> bool:
    """Whether `path` is a whole TorchScript export of softmax_mnist, loadable and described."""
    extra = {"zoo.json": ""}
    torch.jit.load(str(path), _extra_files=extra)
    return json.loads(extra["zoo.json"])["model"] == "softmax_mnist"


def assert_next_export_cleans_up(output: Path) -> None:
    """The export after a crash succeeds, writes the new file, and leaves no `.part`."""
    code, _, err = run_cli(*ARGV, "-o", str(output))
    assert code == 0, err
    assert is_new_export(output)
    assert parts(output.parent) == []


def assert_killed_at(step: str, output: Path, had_old: bool) -> None:
    """After a kill at `step`: before the rename the old file (or none) and a leftover `.part`,
    after it the whole new file."""
    if WRITE_STEPS.index(step) < WRITE_STEPS.index("renamed"):
        assert output.read_bytes() == OLD if had_old else not output.exists()
        assert len(parts(output.parent)) == 1, "killed while writing: its .part is left"
    else:
        assert is_new_export(output)


def test_a_kill_half_way_through_the_write_keeps_the_old_file(tmp_path: Path) -> None:
    output = tmp_path / "m.pt"
    output.write_bytes(OLD)
    assert export_process(output, {KILL_AT_ENV: "half-written"}) == -signal.SIGKILL
    assert_killed_at("half-written", output, had_old=True)
    leftover = tmp_path / parts(tmp_path)[0]
    assert leftover.stat().st_size > 0, "half of the file was written before the kill"
    assert_next_export_cleans_up(output)


@pytest.mark.slow
@pytest.mark.parametrize("had_old", [True, False], ids=["over-an-old-file", "new-file"])
@pytest.mark.parametrize("step", WRITE_STEPS)
def test_a_kill_at_each_step_leaves_old_or_new_never_half(
    step: str, had_old: bool, tmp_path: Path
) -> None:
    output = tmp_path / "m.pt"
    if had_old:
        output.write_bytes(OLD)
    assert export_process(output, {KILL_AT_ENV: step}) == -signal.SIGKILL
    assert_killed_at(step, output, had_old)
    assert_next_export_cleans_up(output)


STRACE = shutil.which("strace")


@pytest.mark.skipif(STRACE is None, reason="strace is not installed")
@pytest.mark.parametrize(
    ("syscall", "when", "renamed"),
    [("fsync", 1, False), ("rename", 1, False), ("fsync", 2, True)],
    ids=["before-the-file-fsync", "before-the-rename", "before-the-folder-fsync"],
)
def test_a_kill_on_entering_a_syscall_leaves_old_or_new(
    syscall: str, when: int, renamed: bool, tmp_path: Path
) -> None:
    output = tmp_path / "m.pt"
    output.write_bytes(OLD)
    strace = (STRACE, "-f", "-qq", "-o", os.devnull, "-e", f"trace={syscall}",
              "-e", f"inject={syscall}:signal=KILL:when={when}")  # fmt: skip
    code = export_process(output, {}, prefix=strace)
    assert code in (-signal.SIGKILL, 128 + signal.SIGKILL), "strace did not kill the export"
    if renamed:
        assert is_new_export(output) and parts(tmp_path) == []
    else:
        assert output.read_bytes() == OLD and len(parts(tmp_path)) == 1
    assert_next_export_cleans_up(output)


def test_only_leftovers_of_dead_exports_are_removed(tmp_path: Path) -> None:
    output = tmp_path / "m.pt"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid now names no process
    dead = tmp_path / f".m.pt.{gone.pid}.0badc0de.part"
    alive = tmp_path / f".m.pt.{os.getpid()}.5ca1ab1e.part"  # an export still writing
    earlier = tmp_path / ".m.pt.k3j_x9aq.part"  # from the writer exports used before
    other = tmp_path / f".n.pt.{gone.pid}.0badc0de.part"  # another file's
    for path in (dead, alive, earlier, other):
        path.write_bytes(b"half")
    assert remove_leftovers(output) == sorted([dead, earlier])
    assert parts(tmp_path) == sorted([alive.name, other.name])


def test_a_full_file_system_is_one_line_and_leaves_the_old_file(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "small", size_kib=256) as folder:
        output = folder / "m.pt"
        output.write_bytes(OLD)
        fill(folder)
        code, out, err = run_cli(*ARGV, "-o", str(output))
        assert code == 1, out
        says = "No space left on device: {} — free some space or write somewhere else"
        assert err == f"zoo export: {says.format(output)}\n"
        assert output.read_bytes() == OLD
        assert parts(folder) == []


def test_a_read_only_folder_is_refused_before_the_export(tmp_path: Path) -> None:
    with read_only_folder(tmp_path / "ro", {"m.pt": OLD}) as folder:
        output = folder / "m.pt"
        code, out, err = run_cli(*ARGV, "-o", str(output))
        assert code == 2, out
        assert err == (
            f"zoo export: --output {output}: {folder} is on a read-only file system — write "
            "somewhere else\n"
        )
        assert output.read_bytes() == OLD


def test_an_output_folder_that_is_a_file_says_so(tmp_path: Path) -> None:
    (tmp_path / "ok.onnx").write_bytes(OLD)
    output = tmp_path / "ok.onnx" / "m.onnx"
    code, _, err = run_cli("softmax_mnist", "--format", "onnx", "-o", str(output))
    assert code == 2
    assert err == (
        f"zoo export: --output {output}: {tmp_path / 'ok.onnx'} is a file, not a folder — "
        f"write into a folder, e.g. -o {tmp_path / 'm.onnx'}\n"
    )
    assert "mkdir" not in err
    assert (tmp_path / "ok.onnx").read_bytes() == OLD


def test_a_missing_output_folder_says_how_to_create_it(tmp_path: Path) -> None:
    output = tmp_path / "new" / "m.onnx"
    code, _, err = run_cli("softmax_mnist", "--format", "onnx", "-o", str(output))
    assert code == 2
    assert err == (
        f"zoo export: --output {output}: the folder {output.parent} does not exist — create it "
        f"first (mkdir -p {output.parent})\n"
    )


def export_checkpoint(ckpt: Path, output: Path) -> tuple[int, str, str]:
    """`zoo export cnn_mnist --checkpoint CKPT` to ONNX: (status, stdout, stderr)."""
    return run_cli("cnn_mnist", "--checkpoint", str(ckpt), "--format", "onnx", "-o", str(output))


def _checkpoint(path: Path, model_name: str, class_path: str | None) -> Path:
    state = {"state_dict": create_model(model_name).state_dict()}
    if class_path is not None:
        state["hyper_parameters"] = {"_class_path": class_path}
    torch.save(state, path)
    return path


def test_a_checkpoint_of_another_model_names_the_model_to_export(tmp_path: Path) -> None:
    ckpt = _checkpoint(tmp_path / "run.ckpt", "cnn_mnist", "zoo.models.cnn.CNNMNIST")
    argv = ("resnet_mnist", "--checkpoint", str(ckpt), "--format", "onnx")
    code, _, err = run_cli(*argv, "-o", str(tmp_path / "m.onnx"))
    assert code == 2
    assert err == (
        f"zoo export: --checkpoint {ckpt} holds a CNNMNIST, not a ResNetMNIST (resnet_mnist) — "
        "export it as MODEL cnn_mnist\n"
    )
    assert "--name" not in err and not (tmp_path / "m.onnx").exists()


class Unsafe:
    """A class a safe checkpoint load refuses to rebuild."""


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "is empty: the save that wrote it did not finish"),
        (b"not a checkpoint", "is not a PyTorch checkpoint, or is truncated"),
        (None, "holds objects that a safe load refuses (WeightsUnpickler error: Unsupported "),
    ],
    ids=["empty", "text", "pickled-object"],
)
def test_an_unusable_checkpoint_is_one_line_with_export_advice(
    content: bytes | None, says: str, tmp_path: Path
) -> None:
    ckpt = tmp_path / "run.ckpt"
    if content is None:
        torch.save({"state_dict": {}, "hparams": Unsafe()}, ckpt)
    else:
        ckpt.write_bytes(content)
    code, _, err = export_checkpoint(ckpt, tmp_path / "m.onnx")
    assert code == 2
    assert err.startswith(f"zoo export: --checkpoint {ckpt} {says}")
    assert err.endswith(" — give the .ckpt file of a zoo fit run\n") and err.count("\n") == 1
    assert "Publish" not in err


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_checkpoint_that_is_not_a_file_is_refused_without_reading(
    kind: str, tmp_path: Path
) -> None:
    ckpt = tmp_path / "run.ckpt"
    if kind == "fifo":
        os.mkfifo(ckpt)  # nobody writes to it: a read would wait for ever
    else:
        ckpt.symlink_to("/dev/zero")  # a read would fill the memory
    code, _, err = export_checkpoint(ckpt, tmp_path / "m.onnx")
    assert (code, err) == (
        2,
        f"zoo export: --checkpoint {ckpt} is not a regular file — give the .ckpt file of a zoo "
        "fit run\n",
    )
