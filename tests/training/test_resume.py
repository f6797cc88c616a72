"""Exact resume: a run SIGKILLed mid-epoch, then resumed, ends bitwise equal to one left alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).parents[1] / "helpers" / "resume_run.py"


def run(mnist_dir: Path, root: Path, out: Path, *flags: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(SCRIPT), str(mnist_dir), str(root), str(out), *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_killed_and_resumed_run_matches_the_uninterrupted_run(mnist_dir: Path, tmp_path) -> None:
    reference = run(mnist_dir, tmp_path / "a", tmp_path / "a.pt")
    assert reference.returncode == 0, reference.stderr

    # Step 45 is batch 5 of the second epoch: the last checkpoint is mid-epoch.
    killed = run(mnist_dir, tmp_path / "b", tmp_path / "b.pt", "--kill-at", "47")
    assert killed.returncode == -9, f"expected SIGKILL, got {killed.returncode}: {killed.stderr}"
    assert not (tmp_path / "b.pt").exists()
    saved = torch.load(tmp_path / "b" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 45
    assert saved["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [
        {"epoch": 1, "position": 5}
    ]

    resumed = run(mnist_dir, tmp_path / "b", tmp_path / "b.pt", "--resume")
    assert resumed.returncode == 0, resumed.stderr

    expected = torch.load(tmp_path / "a.pt", weights_only=True)
    actual = torch.load(tmp_path / "b.pt", weights_only=True)
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), f"{name} differs after resume"
