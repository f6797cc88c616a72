"""`zoo bench --quick` end to end in a real subprocess: JSON, Markdown and PNG with sane fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.hardware import cpu_model
from zoo.training.precision import cpu_bf16_unit, cpu_isa, training_precision


def _bench(args: list[str], mnist_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZOO_DATA_DIR": str(mnist_dir)}
    env.pop("ZOO_PRECISION", None)
    return subprocess.run(
        [sys.executable, "-m", "zoo.benchmark", *args],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def quick_run(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `--quick --precision all` run of an MLP and a CNN, shared by the tests below."""
    out = tmp_path_factory.mktemp("bench") / "results"
    args = ["--quick", "--precision", "all", "--models", "softmax_mnist,resnet_mnist",
            "--threads", "1", "--fraction", "0.01", "--no-inference"]  # fmt: skip
    run = _bench([*args, "--out", str(out)], mnist_dir)
    assert run.returncode == 0, run.stderr[-3000:]
    return out


def test_quick_bench_writes_sane_json_markdown_and_png(quick_run: Path) -> None:
    results = json.loads((quick_run / "results.json").read_text())
    env = results["environment"]
    assert env["quick"] is True and env["threads"] == 1 and env["freed_memory_kept"] is True
    softmax, resnet = results["models"]
    assert softmax["model"] == "softmax_mnist"
    assert 2.0 < softmax["train_mflop_per_image"] < 3.0
    assert softmax["course"]["epoch_s"] > 0 and softmax["course"]["peak_rss_mib"] > 50
    for precision in ("fp32", "bf16"):
        row = softmax["precisions"][precision]
        for path in ("vanilla", "lightning"):
            figures = row[path]
            assert figures["epoch_s"] > 0 and figures["images_per_s"] > 0
            assert 0 < figures["peak_fraction"] < 5 and figures["peak_rss_mib"] > 50
        assert row["speedup_vs_course"] > 0
        assert isinstance(row["lightning_overhead_ms_per_step"], float)
        # The convolution floor: none in the MLP; part of the CNN's epoch, bounding its ratio.
        assert row["convolution_epoch_s"] is None and row["speedup_ceiling"] is None
        conv = resnet["precisions"][precision]
        assert 0 < conv["convolution_epoch_s"] < resnet["course"]["epoch_s"]
        ceiling = resnet["course"]["epoch_s"] / conv["convolution_epoch_s"]
        assert conv["speedup_ceiling"] == pytest.approx(ceiling)
    assert "time_to_accuracy" not in results and "inference" not in results
    markdown = (quick_run / "results.md").read_text()
    assert "| softmax_mnist | fp32 | course loop | 64 |" in markdown
    assert "| softmax_mnist | bf16 | zoo Trainer | 512 |" in markdown
    assert "## Targets" in markdown and "ms |" in markdown
    ceiling = resnet["precisions"][env["headline_precision"]]["speedup_ceiling"]
    assert f"at most {ceiling:.2f}x with all else free" in markdown
    assert (quick_run / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_row_is_against_the_peak_of_its_own_precision(quick_run: Path) -> None:
    results = json.loads((quick_run / "results.json").read_text())
    peaks = results["environment"]["matmul_peak_gflops"]
    assert set(peaks) == {"fp32", "bf16"}
    best = {precision: max(peak["before"], peak["after"]) for precision, peak in peaks.items()}
    assert all(value > 0 for value in best.values())
    for model in results["models"]:
        course = model["course"]
        assert course["peak_fraction"] == pytest.approx(course["gflops"] / best["fp32"])
        for precision, row in model["precisions"].items():
            for path in ("vanilla", "lightning"):
                figures = row[path]
                expected = figures["gflops"] / best[precision]
                assert figures["peak_fraction"] == pytest.approx(expected)


def test_the_report_names_the_cpu_and_its_isa(quick_run: Path) -> None:
    results = json.loads((quick_run / "results.json").read_text())
    env = results["environment"]
    assert env["cpu"] == cpu_model() and env["isa"] == cpu_isa()
    assert env["cpu_bf16_unit"] == cpu_bf16_unit()
    assert env["native_bf16"] is (cpu_bf16_unit() is not None)
    assert env["precisions"] == ["fp32", "bf16"]
    assert env["headline_precision"] == ("bf16" if env["native_bf16"] else "fp32")
    markdown = (quick_run / "results.md").read_text()
    machine = next(line for line in markdown.splitlines() if line.startswith("**Machine**"))
    assert cpu_model() in machine and f"ISA {cpu_isa()}" in machine
    assert (cpu_bf16_unit() or "no native bf16") in machine
    goals = "with native bf16" if env["native_bf16"] else "without native bf16"
    assert goals in markdown


def test_the_shipped_recipe_is_timed_as_a_user_runs_it(
    quick_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZOO_PRECISION", raising=False)  # as in the benchmark's process
    results = json.loads((quick_run / "results.json").read_text())
    shipped = results["models"][1]["shipped"]
    assert shipped["recipe"] == "resnet_mnist" and shipped["augment"] is True
    assert shipped["batch_size"] == 128 and shipped["precision"] == training_precision("cpu")
    # 5,000 images held out for validation, the last partial batch dropped: 429 steps of 128.
    assert shipped["steps_per_epoch"] == 429 and shipped["train_images"] == 54_912
    assert shipped["validation_s"] > 0 and shipped["train_epoch_s"] > 0
    assert shipped["epoch_s"] == pytest.approx(shipped["train_epoch_s"] + shipped["validation_s"])
    course = results["models"][1]["course"]["epoch_s"]
    assert shipped["speedup_vs_course"] == pytest.approx(course / shipped["epoch_s"])
    assert 0 < shipped["peak_fraction"] < 5
    (row,) = [t for t in results["targets"] if "as shipped" in t["target"]]
    assert row["goal"] == (">= 4x" if results["environment"]["native_bf16"] else ">= 2.5x")
    assert "zoo fit as shipped (resnet_mnist.yaml)" in (quick_run / "results.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--models", "lenet"], "unknown ['lenet']"),
        (["--fraction", "2"], "--fraction must be in (0, 1]"),
        (["--device", "tpu"], "--device: 'tpu' is not a device name"),
        (["--device", "meta"], "--device must be cpu or cuda"),
        (["--precision", "fp16"], "argument --precision: invalid choice: 'fp16'"),
        (["--seeds", "0,x"], "argument --seeds: '0,x' is not a comma-separated list"),
        (["--seeds", "1,1"], "argument --seeds: seeds must be distinct and >= 0"),
        (["--seeds", ","], "argument --seeds: give at least one seed"),
    ],
)
def test_bad_arguments_fail_clearly_before_writing(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from zoo.benchmark.cli import bench_command

    out = tmp_path / "results"
    with pytest.raises(SystemExit) as exit_info:
        bench_command([*args, "--out", str(out)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in error, error
    assert not out.exists()
