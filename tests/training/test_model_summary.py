"""The model summary `zoo fit` prints: real FLOPs and shapes, one line a layer at 80 columns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers.cli import recipe


def test_summary_shows_flops_and_shapes_within_80_columns(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "80"}
    out = subprocess.run(
        [sys.executable, "-m", "zoo", "fit", "--config", recipe("resnet_mnist"), "--config",
         recipe("logger/csv"), "--trainer.max_steps", "1", "--trainer.limit_val_batches", "1",
         "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path)],
        capture_output=True, text=True, env=env, check=True, timeout=600,
    )  # fmt: skip
    lines = (out.stdout + out.stderr).splitlines()
    conv1 = next(line for line in lines if line.split()[:2] == ["conv1", "Conv2d"])
    assert conv1.split()[-3:] == ["1×28×28", "→", "16×24×24"]
    assert "460 K" in conv1  # 16·24·24·25 multiply-adds, not Lightning's 0 without an input
    assert any("41.5 K parameters" in line and "4.0 M FLOPs per sample" in line for line in lines)
    table = lines[lines.index(conv1) - 3 : lines.index(conv1) + 8]
    assert max(len(line) for line in table) <= 80
    assert "ModuleDict" not in out.stdout and "Mode" not in out.stdout
