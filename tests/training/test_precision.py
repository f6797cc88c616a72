"""Training precision follows the hardware: bf16 where it is native, fp32 elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers.cli import fit, recipe

from zoo.training import precision
from zoo.training.precision import BF16, FP32, cpu_bf16_unit, precision_reason, training_precision

QUICK = ("--trainer.max_steps", "3", "--trainer.limit_val_batches", "1", "--config",
         recipe("logger/csv"), "--trainer.enable_progress_bar", "false")  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "unit", "chosen"),
    [
        ({"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}, "AMX-BF16", BF16),
        ({"avx2", "avx512f", "avx512_bf16"}, "AVX512-BF16", BF16),
        ({"avx2", "avx512f"}, None, FP32),
        ({"avx2", "fma"}, None, FP32),
        (set(), None, FP32),
    ],
)
def test_the_cpu_choice_follows_its_bf16_unit(monkeypatch, flags, unit, chosen) -> None:
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.delenv(precision.OVERRIDE_ENV, raising=False)
    assert cpu_bf16_unit() == unit
    assert training_precision("cpu") == chosen
    reason = precision_reason(chosen, "cpu")
    assert (unit in reason) if unit else ("no native bf16" in reason)


def test_the_environment_overrides_the_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(precision.OVERRIDE_ENV, "32-true")
    assert training_precision("cpu") == "32-true"
    assert "ZOO_PRECISION" in precision_reason("32-true", "cpu")


def test_fit_uses_and_records_the_hardware_choice(runs: Path, capsys) -> None:
    cli = fit(runs, "--config", recipe("cnn_mnist"), *QUICK)
    expected = training_precision(cli.config.fit.trainer.accelerator)
    assert cli.trainer.precision == expected
    assert f"zoo fit: {expected}, this " in capsys.readouterr().err
    saved = yaml.safe_load((cli.run_dir / "config.yaml").read_text())
    assert saved["trainer"]["precision"] == expected


def test_an_explicit_precision_wins_and_nothing_is_announced(runs: Path, capsys) -> None:
    cli = fit(runs, "--config", recipe("cnn_mnist"), "--trainer.precision", "32-true", *QUICK)
    assert cli.trainer.precision == "32-true"
    assert "zoo fit: " not in capsys.readouterr().err


@pytest.mark.slow
def test_bf16_and_fp32_reach_the_same_accuracy(runs: Path) -> None:
    """One epoch of the 1-epoch ResNetMNIST recipe in each precision, same seed and data order."""
    accuracy = {}
    for chosen in (BF16, FP32):
        cli = fit(
            runs, "--config", recipe("resnet_mnist_1epoch"), "--config", recipe("logger/csv"),
            "--trainer.precision", chosen, "--trainer.enable_progress_bar", "false",
            "--name", chosen,
        )  # fmt: skip
        (result,) = cli.trainer.test(cli.model, cli.datamodule, ckpt_path="last", verbose=False)
        accuracy[chosen] = result["test/acc"]
    assert min(accuracy.values()) >= 0.985, accuracy
    # Seed-to-seed spread of this recipe is about 0.1 points (99.19-99.31 % over seeds 0-2).
    assert abs(accuracy[BF16] - accuracy[FP32]) <= 0.004, accuracy


@pytest.mark.parametrize("chosen", [BF16, FP32])
def test_gradient_clipping_works_in_either_precision(runs: Path, chosen: str) -> None:
    # The diverged-run message advises clipping; a fused optimizer cannot be clipped under AMP.
    cli = fit(
        runs, "--config", recipe("cnn_mnist"), "--trainer.precision", chosen,
        "--trainer.gradient_clip_val", "1.0", *QUICK,
    )  # fmt: skip
    assert cli.trainer.global_step == 3
    assert not cli.trainer.optimizers[0].defaults.get("fused")
