"""`zoo publish` of what is no checkpoint, with bad arguments, or onto a full disk: one line,
a non-zero exit, and the weights folder exactly as it was."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from helpers.filesystems import fill, small_filesystem
from helpers.short_runs import train

import zoo
import zoo.weights.publish
from zoo.cli import main
from zoo.hub import load_weight
from zoo.weights import WeightTable, render_card

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real short run: its checkpoint, with `metrics.csv` next to it."""
    root = tmp_path_factory.mktemp("run")
    model = zoo.LinearRegression(lr=0.05, momentum=0.9)
    return train(root, model, zoo.LinearToyDataModule(), 3, seed=0)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where `zoo publish` writes in these tests (instead of the source checkout)."""
    root = tmp_path / "weights"
    root.mkdir()
    table = WeightTable(root / "published.json", root / "published")
    monkeypatch.setattr(zoo.weights.publish, "source_table", lambda: table)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def publish_line(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    """`zoo publish ARGS` in this process: its exit status and its one line of stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["publish", *args])
    assert not [w for w in caught if "pickle" in str(w.message)], [str(w.message) for w in caught]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return code, err.rstrip("\n")


def weight_args(ckpt: Path | str, tag: str = "v1") -> list[str]:
    return [str(ckpt), "--name", "linear_regression", "--tag", tag, "--seed", "0"]


def not_a_checkpoint(tmp_path: Path, kind: str, run: Path) -> Path:
    path = tmp_path / f"{kind}.ckpt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("epoch=3 loss=0.1\n", encoding="utf-8")
    elif kind == "truncated":
        path.write_bytes(run.read_bytes()[: run.stat().st_size // 2])
    elif kind == "folder":
        path.mkdir()
    elif kind == "fifo":  # nothing ever writes into it: opening it to read would block
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/zero")
    elif kind == "pickle":  # a plain pickle (protocol 4): torch warns, then refuses it
        path.write_bytes(pickle.dumps({"state_dict": {}}, protocol=4))
    elif kind == "unsafe":
        torch.save({"state_dict": {}, "hyper_parameters": {"root": Path("/")}}, path)
    return path


BAD_CHECKPOINTS = [
    ("missing", r"checkpoint {path} does not exist — give the \.ckpt file a Lightning Trainer"),
    ("folder", r"checkpoint {path} is a folder, not a checkpoint file — give the \.ckpt file"),
    ("fifo", r"checkpoint {path} is not a regular file — give the \.ckpt file a Lightning"),
    ("device", r"checkpoint {path} is not a regular file — give the \.ckpt file a Lightning"),
    ("empty", r"checkpoint {path} is empty \(0 bytes\): the run that saved it did not finish — "),
    ("text", r"{path} is not a PyTorch checkpoint — give the \.ckpt file a Lightning Trainer"),
    ("pickle", r"{path} is not a PyTorch checkpoint — give the \.ckpt file"),
    ("truncated", r"checkpoint {path} is truncated or damaged \(an incomplete zip archive\) — "),
    (
        "unsafe",
        r"{path} cannot be loaded safely \(weights_only=True\): it holds a pathlib\.\w*Path",
    ),
]


@pytest.mark.parametrize(("kind", "message"), BAD_CHECKPOINTS, ids=[k for k, _ in BAD_CHECKPOINTS])
def test_what_is_no_checkpoint_is_one_line_and_writes_nothing(
    kind: str, message: str, run: Path, folder: Path, tmp_path: Path, capsys
) -> None:
    path = not_a_checkpoint(tmp_path, kind, run)
    code, line = publish_line(weight_args(path), capsys)
    assert code == 2
    pattern = "^zoo publish: " + message.replace("{path}", str(path).replace(".", r"\."))
    assert re.match(pattern, line), line
    assert snapshot(folder) == {}


def test_the_installed_command_prints_one_line_for_a_text_file(tmp_path: Path) -> None:
    # A real process: torch's pickle-protocol warning would reach its stderr too.
    path = tmp_path / "notes.ckpt"
    path.write_bytes(pickle.dumps(["not", "a", "checkpoint"], protocol=4))
    before = snapshot(REPOSITORY / "zoo/weights")
    env = dict(os.environ)
    env.pop("ZOO_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "publish", *weight_args(path, "text_v1")],
        capture_output=True, text=True, timeout=120, env=env, cwd=REPOSITORY,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        f"zoo publish: {path} is not a PyTorch checkpoint — give the .ckpt file a Lightning "
        "Trainer saved (zoo fit keeps them in runs/NAME/VERSION/checkpoints/, e.g. last.ckpt)\n"
    )
    assert snapshot(REPOSITORY / "zoo/weights") == before


BAD_ARGUMENTS = [
    (["--epochs", "-1"], r"epochs \(--epochs\) must be a whole number, 0 or more, got -1$"),
    (["--wall-time", "0"], r"wall_time_s \(--wall-time\) must be the run's training seconds"),
    (["--wall-time", "nan"], r"wall_time_s \(--wall-time\) must be .* got nan$"),
    (["--url", "ftp://example.org/w.safetensors"], r"url \(--url\) must be an http:// or https"),
    (["--tag", "Bad-Tag"], r"invalid tag 'Bad-Tag'"),
    (["--name", "resnet"], r"unknown model 'resnet' \(--name\) — choose one of: "),
    (["--data-arg", "data_dir=/tmp"], r"data argument data_dir='/tmp' cannot be recorded"),
    (["--metrics-csv", "{missing}"], r"{missing} does not exist — pass the metrics\.csv"),
    (["--metrics-csv", "{folder}"], r"{folder} is a folder — pass the metrics\.csv of Lightning"),
    (["--metrics-csv", "{binary}"], r"{binary} is not a Lightning CSVLogger metrics\.csv"),
    (["--data-dir", "{binary}"], r"--data-dir {binary} is a file, not a folder — give the folder"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_ARGUMENTS, ids=[a[0] for a, _ in BAD_ARGUMENTS])
def test_a_bad_argument_is_named_before_anything_is_written(
    extra: list[str], message: str, run: Path, folder: Path, tmp_path: Path, capsys
) -> None:
    paths = {"missing": tmp_path / "none.csv", "folder": tmp_path, "binary": tmp_path / "b.csv"}
    paths["binary"].write_bytes(bytes(range(256)) * 4)
    args = [a.format(**paths) for a in extra]
    base = weight_args(run)
    if "--tag" in extra or "--name" in extra:
        flag = "--tag" if "--tag" in extra else "--name"
        base[base.index(flag) : base.index(flag) + 2] = args
        args = []
    code, line = publish_line([*base, *args], capsys)
    assert code == 2
    pattern = message.format(**{k: str(v).replace(".", r"\.") for k, v in paths.items()})
    assert re.search("^zoo publish: " + pattern, line), line
    assert snapshot(folder) == {}


def test_an_unknown_model_is_one_line_in_python_too(run: Path, tmp_path: Path) -> None:
    table = WeightTable(tmp_path / "t.json", tmp_path / "files")
    with pytest.raises(zoo.weights.WeightError, match=r"unknown model 'resnet' \(--name\)"):
        zoo.weights.publish.publish(run, name="resnet", tag="v1", seed=0, table=table)


def test_a_full_disk_leaves_the_previous_weights_exactly(
    run: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    with small_filesystem(tmp_path / "disk", 512) as disk:
        table = WeightTable(disk / "published.json", disk / "published")
        monkeypatch.setattr(zoo.weights.publish, "source_table", lambda: table)
        csv = ["--metrics-csv", str(run.parent / "metrics.csv")]
        assert main(["publish", *weight_args(run), *csv]) == 0
        capsys.readouterr()
        fill(disk)
        before = snapshot(disk)
        for args in (weight_args(run, "v2"), [*weight_args(run), "--force"]):
            code, line = publish_line([*args, *csv], capsys)
            assert code == 1
            assert line.startswith("zoo publish: No space left on device: ")
            assert line.endswith(" — free some space or write somewhere else")
            assert snapshot(disk) == before
        # Room for the new weight file, but not for its plot: the file goes again.
        with open(disk / "ballast", "r+b") as ballast:
            ballast.truncate(os.path.getsize(disk / "ballast") - 4096)
        before = snapshot(disk)
        code, line = publish_line([*weight_args(run, "v2"), *csv], capsys)
        assert code == 1 and "No space left on device" in line
        assert snapshot(disk) == before
        # Space again: the next publish works, and leaves only what its table lists.
        for ballast in disk.glob("ballast*"):
            ballast.unlink()
        assert main(["publish", *weight_args(run, "v2"), *csv]) == 0
        reread = WeightTable(table.table_path, table.files_dir)
        for weight in reread.weights():
            load_weight(weight, reread, download=False)
            assert table.card_path(weight).read_text(encoding="utf-8") == render_card(
                weight, reread
            )
        names = {p.name for p in table.files_dir.iterdir()}
        kinds = ("safetensors", "md", "png")
        assert names == {f"linear_regression.{t}.{k}" for t in ("v1", "v2") for k in kinds}
