"""A run stopped by a signal says so and exits non-zero, as schedulers and scripts expect."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers.cli import recipe


def test_sigterm_stops_fit_with_status_143(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("SLURM_JOB_ID", None)
    run = subprocess.Popen(
        [sys.executable, "-m", "zoo", "fit", "--config", recipe("cnn_mnist"), "--config",
         recipe("logger/csv"), "--trainer.enable_progress_bar", "false",
         "--trainer.default_root_dir", str(tmp_path), "--checkpoint.last_every_n_steps", "5"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    last = tmp_path / "cnn_mnist" / "version_0" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not last.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert last.exists(), run.stderr.read() if run.poll() is not None else "no checkpoint"
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 143, err[-2000:]
    assert "zoo fit: stopped by SIGTERM — resume the run with --ckpt_path last" in err
    assert "Traceback" not in err
