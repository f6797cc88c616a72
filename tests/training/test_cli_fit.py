"""`zoo fit` as a real subprocess: W&B offline run, checkpoints, plots; then test and resume."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import wandb_records
from helpers.cli import REPO, fit, is_png, recipe

from zoo.training.lightning_cli import run_cli

TINY = [
    "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "6",
    "--trainer.log_every_n_steps", "2", "--data.init_args.val_size", "500",
    "--data.init_args.eval_batch_size", "250", "--checkpoint.last_every_n_steps", "4",
]  # fmt: skip


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Path:
    """The run directory of one tiny `zoo fit --config recipes/resnet_mnist.yaml` subprocess."""
    runs = tmp_path_factory.mktemp("fit") / "runs"
    env = {**os.environ, "WANDB_MODE": "offline", "ZOO_DATA_DIR": str(mnist_dir)}
    env.pop("WANDB_API_KEY", None)
    command = [sys.executable, "-m", "zoo", "fit", "--config", recipe("resnet_mnist.yaml"), *TINY]
    command += ["--trainer.default_root_dir", str(runs)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return runs / "resnet_mnist" / "version_0"


def wandb_file(run_dir: Path, index: int = 0) -> Path:
    files = sorted((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))
    assert files, f"no offline W&B run in {run_dir}"
    return files[index]


def test_wandb_offline_run_holds_metrics_and_hparams(fitted: Path) -> None:
    rows = wandb_records.history(wandb_records.wait_for_exit(wandb_file(fitted)))
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    assert len(losses) == 3  # steps 2, 4, 6 with log_every_n_steps=2
    assert all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in losses)
    (val_acc,) = [r["val/acc"] for r in rows if "val/acc" in r]
    assert 0.0 <= val_acc <= 1.0
    logged = set().union(*rows)
    assert {"val/confusion_matrix/_type", "val/predictions/_type", "plots/curves/_type"} <= logged
    config = wandb_records.config(wandb_file(fitted))
    assert config["lr"] == 0.1 and config["label_smoothing"] == 0.1
    assert config["data"]["init_args"]["batch_size"] == 128
    assert config["seed_everything"] == 0


def test_checkpoints_load_with_weights_only(fitted: Path) -> None:
    folder = fitted / "checkpoints"
    best = list(folder.glob("best-epoch=0-step=6*.ckpt"))
    assert len(best) == 1 and (folder / "last.ckpt").is_file()
    checkpoint = torch.load(folder / "last.ckpt", weights_only=True, map_location="cpu")
    assert checkpoint["global_step"] == 6
    assert checkpoint["hyper_parameters"]["_class_path"] == "zoo.ResNetMNIST"
    assert set(checkpoint["state_dict"]) >= {"conv1.weight", "fc.bias"}
    assert (fitted / "config.yaml").is_file()


def test_plots_are_pngs(fitted: Path) -> None:
    names = {"curves.png", "val_confusion_matrix.png", "val_predictions.png"}
    assert names <= {p.name for p in (fitted / "plots").iterdir()}
    assert all(is_png(fitted / "plots" / name) for name in names)


def test_test_with_best_checkpoint(fitted: Path, one_thread) -> None:
    runs = fitted.parent.parent
    cli = run_cli([
        "test", "--config", recipe("resnet_mnist.yaml"), "--ckpt_path", "best",
        "--trainer.default_root_dir", str(runs), "--trainer.limit_test_batches", "2",
        "--data.init_args.eval_batch_size", "250",
    ])  # fmt: skip
    assert cli.run_dir == fitted  # "best" picks the latest run of the recipe
    assert Path(cli.trainer.ckpt_path).name.startswith("best-epoch=0-step=6")
    assert 0.0 <= cli.trainer.callback_metrics["test/acc"].item() <= 1.0
    for name in ("test_confusion_matrix.png", "test_predictions.png"):
        assert is_png(fitted / "plots" / name)
    path = wandb_file(fitted, index=-1)
    rows = wandb_records.history(wandb_records.wait_for_exit(path))
    assert any("test/acc" in r for r in rows), (path, [sorted(r) for r in rows])
    assert any("test/confusion_matrix/_type" in r for r in rows)


def resumable_run(*extra: str) -> list[str]:
    """A 3-step-per-epoch ResNetMNIST run without an LR schedule, so it can be extended."""
    return [
        "--config", recipe("resnet_mnist.yaml"), "--model.init_args.scheduler", "none",
        "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "1",
        "--data.init_args.val_size", "100", *extra,
    ]  # fmt: skip


def test_resume_from_last_continues_the_run(runs: Path, mnist_dir: Path, one_thread) -> None:
    args = resumable_run("--trainer.logger", "false")
    first = fit(runs, *args, "--trainer.max_epochs", "1")
    assert first.trainer.global_step == 3
    second = fit(runs, *args, "--trainer.max_epochs", "2", "--ckpt_path", "last")
    assert second.run_dir == first.run_dir
    assert Path(second.trainer.ckpt_path).name == "last.ckpt"
    assert second.trainer.global_step == 6
    third = fit(runs, *args, "--trainer.max_epochs", "1")
    assert third.run_dir.name == "version_1"


def test_resumed_fit_continues_its_wandb_run(
    runs: Path, mnist_dir: Path, one_thread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)  # offline: W&B's own run files
    args = resumable_run("--trainer.log_every_n_steps", "1")
    first = fit(runs, *args, "--trainer.max_epochs", "1")
    run_id = (first.run_dir / "wandb_run_id").read_text().strip()
    second = fit(runs, *args, "--trainer.max_epochs", "2", "--ckpt_path", "last")
    assert second.run_dir == first.run_dir
    assert (first.run_dir / "wandb_run_id").read_text().strip() == run_id
    parts = sorted((first.run_dir / "wandb").glob("offline-run-*"))
    # By the run file each folder holds: two runs started in the same second get folder names
    # that W&B tells apart with a suffix of its own (`offline-run-<time>-<id>-1`).
    assert [next(p.glob("run-*.wandb")).stem for p in parts] == [f"run-{run_id}"] * 2
    steps = []
    for part in parts:
        rows = wandb_records.history(wandb_records.wait_for_exit(next(part.glob("run-*.wandb"))))
        steps.append([r["trainer/global_step"] for r in rows if "train/loss" in r])
    assert len(steps[0]) == 3 and len(steps[1]) == 3
    assert min(steps[1]) > max(steps[0])  # the resumed run carries on the same curve
    fresh = fit(runs, *args, "--trainer.max_epochs", "1")
    assert (fresh.run_dir / "wandb_run_id").read_text().strip() != run_id
