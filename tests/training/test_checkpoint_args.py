"""Every kind of bad `--ckpt_path` is one line and exit 2, before anything is built or run."""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import pytest
import torch
from helpers.cli import fit, recipe

from zoo.cli import main as zoo_main


class _NotAllowed:
    """A class `torch.load(weights_only=True)` must refuse to rebuild."""


def _bad_files(folder: Path, real: Path) -> dict[str, Path]:
    files = {
        "empty": folder / "empty.ckpt",
        "truncated": folder / "truncated.ckpt",
        "text": folder / "notes.ckpt",
        "unsafe pickle": folder / "unsafe.ckpt",
        "no state_dict": folder / "tensor.ckpt",
    }
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    files["text"].write_text("epoch 3, loss 0.1\n")
    torch.save(
        {"state_dict": collections.OrderedDict(), "extra": _NotAllowed()}, files["unsafe pickle"]
    )
    torch.save(torch.zeros(3), files["no state_dict"])
    return files


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:  # module scope: before the plain-argv fixture
        patch.setattr(sys, "argv", ["zoo"])
        cli = fit(runs, "--config", recipe("cnn_mnist"), "--config", recipe("logger/csv"),
                  "--trainer.max_steps", "2", "--trainer.limit_val_batches", "1",
                  "--trainer.enable_progress_bar", "false")  # fmt: skip
    return cli.run_dir / "checkpoints" / "last.ckpt"


def test_each_bad_checkpoint_is_one_line(tmp_path: Path, real_checkpoint: Path, capsys) -> None:
    cases = {**_bad_files(tmp_path, real_checkpoint), "missing": tmp_path / "nope.ckpt",
             "a directory": tmp_path}  # fmt: skip
    for kind, path in cases.items():
        code = zoo_main(["test", "--config", recipe("cnn_mnist"), "--ckpt_path", str(path),
                         "--trainer.default_root_dir", str(tmp_path / "runs")])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2, kind
        assert err.startswith("zoo test: --ckpt_path ") and err.count("\n") == 1, (kind, err)
        assert "Traceback" not in err and "WeightsUnpickler" not in err, kind
    assert not (tmp_path / "runs").exists()


def test_a_good_checkpoint_still_tests(tmp_path: Path, real_checkpoint: Path) -> None:
    code = zoo_main(["test", "--config", recipe("cnn_mnist"), "--ckpt_path", str(real_checkpoint),
                     "--trainer.default_root_dir", str(tmp_path), "--config", recipe("logger/csv"),
                     "--trainer.limit_test_batches", "1", "--trainer.enable_progress_bar",
                     "false"])  # fmt: skip
    assert code == 0


def test_a_checkpoint_of_another_model_is_refused(
    tmp_path: Path, real_checkpoint: Path, capsys
) -> None:
    runs = str(tmp_path / "runs")
    code = zoo_main(["test", "--config", recipe("resnet_mnist"), "--ckpt_path",
                     str(real_checkpoint), "--trainer.default_root_dir", runs])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "is a checkpoint of CNNMNIST, but the recipe builds ResNetMNIST" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # nothing filed under resnet_mnist/
