"""`zoo bench --quick` end to end in a real subprocess: JSON, Markdown and PNG with sane fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _bench(args: list[str], mnist_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZOO_DATA_DIR": str(mnist_dir)}
    return subprocess.run(
        [sys.executable, "-m", "zoo.benchmark", *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def test_quick_bench_writes_sane_json_markdown_and_png(mnist_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    models = "softmax_mnist,cnn_mnist"
    args = ["--quick", "--models", models, "--threads", "1", "--fraction", "0.01"]
    run = _bench([*args, "--out", str(out)], mnist_dir)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["environment"]["quick"] is True
    assert results["environment"]["threads"] == 1
    assert results["environment"]["freed_memory_kept"] is True
    assert results["environment"]["matmul_peak_gflops"]["before"] > 0
    model, cnn = results["models"]
    assert model["model"] == "softmax_mnist"
    assert 2.0 < model["train_mflop_per_image"] < 3.0
    for path in ("course", "vanilla", "lightning"):
        figures = model[path]
        assert figures["epoch_s"] > 0 and figures["images_per_s"] > 0
        assert 0 < figures["peak_fraction"] < 5 and figures["peak_rss_mib"] > 50
    assert model["speedup_vs_course"] > 0
    assert any(t["target"].startswith("softmax_mnist epoch") for t in results["targets"])
    # The convolution floor: none in the MLP; part of the CNN's epoch, bounding its speed-up.
    assert model["convolution_epoch_s"] is None and model["speedup_ceiling"] is None
    assert 0 < cnn["convolution_epoch_s"] < cnn["course"]["epoch_s"]
    ceiling = cnn["course"]["epoch_s"] / cnn["convolution_epoch_s"]
    assert cnn["speedup_ceiling"] == pytest.approx(ceiling)
    assert isinstance(model["lightning_overhead_ms_per_step"], float)
    assert "time_to_accuracy" not in results and "inference" not in results
    markdown = (out / "results.md").read_text()
    assert "| softmax_mnist | zoo Trainer | 512 |" in markdown and "## Targets" in markdown
    assert f"at most {cnn['speedup_ceiling']:.2f}x with all else free" in markdown
    assert "ms per step |" in markdown
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--models", "lenet"], "unknown ['lenet']"),
        (["--fraction", "2"], "--fraction must be in (0, 1]"),
        (["--device", "tpu"], "--device must be cpu or cuda"),
    ],
)
def test_bad_arguments_fail_clearly_before_writing(
    args: list[str], message: str, tmp_path: Path
) -> None:
    from zoo.benchmark.cli import bench_command

    out = tmp_path / "results"
    with pytest.raises(SystemExit) as exit_info:
        bench_command([*args, "--out", str(out)])
    assert exit_info.value.code == 2
    assert not out.exists()
