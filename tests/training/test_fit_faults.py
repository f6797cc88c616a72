"""Faults of `zoo fit` met for real: bad options, busy or finished run folders, full and
read-only disks, resuming with another length. Each is one line and the right exit status, and
leaves what the user had as it was."""

from __future__ import annotations

import multiprocessing
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers.cli import REPO, recipe
from helpers.filesystems import fill, read_only_folder, small_filesystem

from zoo.cli import main as zoo_main
from zoo.errors import RunFailed
from zoo.training.checkpoint_io import AtomicCheckpointIO
from zoo.training.run_dir import claim_next_version

SHORT = ["--config", recipe("cnn_mnist"), "--config", recipe("logger/csv"),
         "--trainer.max_steps", "2", "--trainer.limit_val_batches", "1",
         "--trainer.enable_progress_bar", "false",
         "--trainer.enable_model_summary", "false"]  # fmt: skip


def _zoo_lines(err: str) -> list[str]:
    """zoo's own lines, less the note saying which precision a run trains in."""
    note = re.compile(r"zoo fit: [\w-]+(-true|-mixed), ")
    return [
        line for line in err.splitlines() if line.startswith("zoo fit:") and not note.match(line)
    ]


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--model.momentum", "-5", "--model.momentum -5.0: momentum must be >= 0"),
        ("--model.label_smoothing", "3", "--model.label_smoothing 3.0: label_smoothing must be"),
        ("--model.lr", "-0.1", "--model.lr -0.1: lr must be positive"),
        ("--model.weight_decay", "-1", "--model.weight_decay -1.0: weight_decay must be >= 0"),
        ("--data.batch_size", "-4", "--data.batch_size -4: must be a whole number of at least 1"),
        ("--data.batch_size", "x", "--data.batch_size x: expected int, got x"),
        ("--trainer.max_epochs", "abc", "--trainer.max_epochs abc: expected int"),
        ("--trainer.max_epochs", "-3", "--trainer.max_epochs -3 trains nothing"),
        ("--model.nosuch", "3", "--model.nosuch 3: Option 'nosuch' is not accepted"),
    ],
)
def test_a_bad_option_is_one_line_naming_it(runs: Path, capsys, option: str, value: str,
                                            says: str) -> None:  # fmt: skip
    code = zoo_main(["fit", *SHORT, "--trainer.default_root_dir", str(runs), option, value])
    assert code == 2
    err = capsys.readouterr().err
    assert len(_zoo_lines(err)) == 1 and says in _zoo_lines(err)[0], err
    assert "Traceback" not in err and "Union" not in err and "Namespace(" not in err
    assert not runs.exists()  # refused before anything was written


def _claim(folder: str) -> str:
    return claim_next_version(Path(folder), 0)


def test_racing_processes_claim_distinct_run_folders(tmp_path: Path) -> None:
    with multiprocessing.get_context("fork").Pool(8) as pool:
        claimed = pool.map(_claim, [str(tmp_path)] * 32)
    assert sorted(claimed) == sorted(f"version_{n}" for n in range(32))


@pytest.mark.slow
def test_two_runs_started_together_write_apart(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "zoo", "fit", *SHORT,
               "--trainer.default_root_dir", str(tmp_path)]  # fmt: skip
    runs = [subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]  # fmt: skip
    assert [run.wait(timeout=300) for run in runs] == [0, 0]
    folders = sorted((tmp_path / "cnn_mnist").iterdir())
    assert [folder.name for folder in folders] == ["version_0", "version_1"]
    metrics = [(folder / "metrics.csv").read_text() for folder in folders]
    # Same recipe, same seed: two runs that wrote apart wrote the same rows, each once.
    assert metrics[0] == metrics[1] and metrics[0].count("epoch,step") == 1


def test_a_finished_run_is_not_overwritten(runs: Path, capsys) -> None:
    assert zoo_main(["fit", *SHORT, "--trainer.default_root_dir", str(runs)]) == 0
    run = runs / "cnn_mnist" / "version_0"
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()
    code = zoo_main(["fit", *SHORT, "--trainer.default_root_dir", str(runs),
                     "--version", "version_0"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--version version_0:" in err and "already holds a run" in err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    # Continuing it is what --ckpt_path last is for, and the schedule must not be stretched.
    code = zoo_main(["fit", *SHORT[:-4], "--trainer.default_root_dir", str(runs), "--version",
                     "version_0", "--ckpt_path", "last", "--trainer.max_steps", "4"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(_zoo_lines(err)) == 1 and "a schedule cannot be stretched" in err


def test_a_read_only_output_folder_is_one_line(tmp_path: Path, capsys) -> None:
    with read_only_folder(tmp_path / "ro") as folder:
        code = zoo_main(["fit", *SHORT, "--trainer.default_root_dir", str(folder / "runs")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert _zoo_lines(err) == [f"zoo fit: Read-only file system: {folder / 'runs'} — give a "
                               "folder on a writable file system"]  # fmt: skip


def test_a_full_disk_stops_the_run_in_one_line_and_leaves_whole_checkpoints(
    tmp_path: Path, capsys
) -> None:
    # Room for one checkpoint (76 KB) but not for a second beside it: the second save fails.
    with small_filesystem(tmp_path / "disk", size_kib=120) as disk:
        code = zoo_main(["fit", *SHORT, "--trainer.default_root_dir", str(disk),
                         "--checkpoint.last_every_n_steps", "1"])  # fmt: skip
        err = capsys.readouterr().err
        left = sorted(disk.rglob("*"))
        checkpoints = [p for p in left if p.suffix == ".ckpt"]
        assert checkpoints, left
        for checkpoint in checkpoints:  # whatever was saved is whole
            assert "state_dict" in torch.load(checkpoint, weights_only=True)
        assert not [p for p in left if p.name.endswith(".part")]
    assert code == 1, err
    assert "Traceback" not in err and len(_zoo_lines(err)) == 1, err
    assert "No space left on device" in err and "free some space" in err


def test_a_failed_checkpoint_save_keeps_the_previous_one(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    with small_filesystem(tmp_path / "disk", size_kib=256) as disk:
        path = disk / "last.ckpt"
        io.save_checkpoint({"state_dict": {"w": torch.ones(4)}}, path)
        before = path.read_bytes()
        fill(disk)
        with pytest.raises(RunFailed, match=r"could not save the checkpoint .*last\.ckpt"):
            io.save_checkpoint({"state_dict": {"w": torch.zeros(20_000)}}, path)
        assert path.read_bytes() == before
        assert sorted(p.name for p in disk.iterdir()) == ["ballast", "ballast-tail", "last.ckpt"]


@pytest.mark.parametrize("epochs", ["-1", "0", "two"])
def test_the_demo_refuses_a_bad_epoch_count(epochs: str, capsys) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse's usage error
        zoo_main(["demo", "--epochs", epochs])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "argument --epochs" in err and err.count("\n") == 2
