"""`zoo` CLI behaviour: seeding, bad input, logger presets and help."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest
from helpers.cli import fit, recipe

from zoo.cli import main as zoo_main
from zoo.training.lightning_cli import run_cli

SHORT = [
    "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3",
    "--trainer.limit_val_batches", "1", "--data.init_args.val_size", "200",
    "--data.init_args.eval_batch_size", "200", "--trainer.logger", "false",
    "--trainer.enable_progress_bar", "false",
]  # fmt: skip


def metrics(runs: Path, *extra: str) -> dict[str, float]:
    cli = fit(runs, "--config", recipe("resnet_mnist.yaml"), *SHORT, *extra)
    return {k: v.item() for k, v in cli.trainer.callback_metrics.items()}


def test_same_seed_same_metrics(tmp_path: Path, mnist_dir: Path, one_thread) -> None:
    first = metrics(tmp_path / "a")
    assert {"train/loss", "train/acc", "val/loss", "val/acc"} <= set(first)
    assert metrics(tmp_path / "b") == first
    assert metrics(tmp_path / "c", "--seed_everything", "1")["train/loss"] != first["train/loss"]


def test_csv_logger_preset_writes_metrics_csv(runs: Path) -> None:
    cli = fit(
        runs, "--config", recipe("logistic_regression.yaml"), "--config",
        recipe("logger/csv.yaml"), "--trainer.max_epochs", "4", "--trainer.log_every_n_steps", "1",
    )  # fmt: skip
    run_dir = runs / "logistic_regression" / "version_0"
    assert cli.run_dir == run_dir
    with open(run_dir / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert len(losses) == 4 and all(loss > 0 for loss in losses)
    assert [float(r["val/acc"]) for r in rows if r.get("val/acc")]
    assert (run_dir / "hparams.yaml").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()


def test_csv_logger_keeps_earlier_rows_on_resume_and_test(runs: Path) -> None:
    args = [
        "--config", recipe("logistic_regression.yaml"), "--config", recipe("logger/csv.yaml"),
        "--model.init_args.scheduler", "none", "--trainer.log_every_n_steps", "1",
    ]  # fmt: skip
    first = fit(runs, *args, "--trainer.max_epochs", "2")
    path = first.run_dir / "metrics.csv"
    before = csv_rows(path)
    fit(runs, *args, "--trainer.max_epochs", "4", "--ckpt_path", "last")
    run_cli(["test", *args, "--ckpt_path", "best", "--trainer.default_root_dir", str(runs)])
    rows = csv_rows(path)
    assert rows[: len(before)] == before  # the first run's rows, unchanged
    steps = [int(r["step"]) for r in rows if "train/loss" in r]
    assert len(steps) == 4 and steps == sorted(steps)  # two epochs, then two more
    assert len([r for r in rows if "val/acc" in r]) == 4
    assert len([r for r in rows if "test/acc" in r]) == 1


def csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a metrics.csv, each without its empty cells."""
    with open(path, newline="") as file:
        return [{k: v for k, v in row.items() if v} for row in csv.DictReader(file)]


def test_tensorboard_preset_without_tensorboard_is_one_clear_error(runs: Path, capsys) -> None:
    assert importlib.util.find_spec("tensorboard") is None  # as in CI: not a dependency
    status = zoo_main([
        "fit", "--config", recipe("logistic_regression.yaml"), "--config",
        recipe("logger/tensorboard.yaml"), "--trainer.default_root_dir", str(runs),
    ])  # fmt: skip
    assert status == 2
    err = capsys.readouterr().err
    assert "needs the tensorboard package: pip install tensorboard" in err
    assert "Traceback" not in err and "Union" not in err
    assert not runs.exists()  # refused before anything was written


def test_missing_recipe_is_one_clear_error(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "no_such_recipe.yaml"
    assert zoo_main(["fit", "--config", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "no_such_recipe.yaml" in err and "Traceback" not in err and err.count("\n") == 1


def test_unknown_model_class_is_one_clear_error(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  class_path: NoSuchNet\ndata:\n  class_path: zoo.MNISTDataModule\n")
    assert zoo_main(["fit", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "NoSuchNet" in err and "Traceback" not in err and err.count("\n") == 1


def test_bad_hyperparameter_is_one_clear_error(runs: Path, capsys) -> None:
    code = zoo_main([
        "fit", "--config", recipe("logistic_regression.yaml"),
        "--model.init_args.optimizer", "rmsprop", "--trainer.default_root_dir", str(runs),
    ])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "optimizer must be one of" in err and "rmsprop" in err
    assert not runs.exists()


def test_a_diverged_run_is_one_clear_error(runs: Path, capsys) -> None:
    code = zoo_main([
        "fit", "--config", recipe("softmax_mnist.yaml"), *SHORT, "--model.init_args.lr", "1e6",
        "--trainer.limit_train_batches", "20", "--checkpoint.last_every_n_steps", "1",
        "--trainer.default_root_dir", str(runs),
    ])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "zoo fit: training diverged" in err and "Traceback" not in err
    assert "--model.init_args.lr, 1000000.0 in this run" in err


def test_best_without_a_run_is_one_clear_error(runs: Path, capsys) -> None:
    code = zoo_main([
        "test", "--config", recipe("logistic_regression.yaml"), "--ckpt_path", "best",
        "--trainer.default_root_dir", str(runs),
    ])  # fmt: skip
    assert code == 2
    assert "--ckpt_path best: no best*.ckpt" in capsys.readouterr().err


def test_help(capsys) -> None:
    assert zoo_main(["--help"]) == 0
    top = capsys.readouterr().out
    assert all(name in top for name in ("fit", "validate", "test", "predict"))
    with pytest.raises(SystemExit) as exit_info:
        zoo_main(["fit", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--config",
        "--print_config",
        "--ckpt_path",
        "--trainer.max_epochs",
        "--checkpoint.last_every_n_steps",
        "--name",
        "--version",
        "per device",
    ):
        assert option in out, option


def test_lightnings_verdict_on_a_setting_is_one_line(runs: Path, capsys) -> None:
    # 0.02 of MNIST's 5 validation batches is under one batch: Lightning refuses it.
    code = zoo_main([
        "fit", "--config", recipe("cnn_mnist"), "--trainer.default_root_dir", str(runs),
        "--trainer.limit_val_batches", "0.02", "--trainer.max_steps", "1",
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "zoo fit: You requested to check 0.02 of the `val_dataloader`" in err


@pytest.mark.parametrize(("option", "value"), [("max_epochs", "0"), ("max_epochs", "-3"),
                                               ("max_steps", "0")])  # fmt: skip
def test_a_run_that_trains_nothing_is_refused(option: str, value: str, runs: Path, capsys) -> None:
    code = zoo_main(["fit", "--config", recipe("cnn_mnist"), "--trainer.default_root_dir",
                     str(runs), f"--trainer.{option}", value])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and f"--trainer.{option} {value} trains nothing" in err
    assert not runs.exists()  # refused before anything was written
