"""keep_freed_memory in fresh processes: page faults of a repeated large allocation, opt-out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, resource, sys, torch
import zoo

def faults_per_step(steps=10):
    # Like a training step: activation-sized blocks, all freed at the step's end. glibc always
    # maps blocks over 32 MiB afresh; smaller ones depend on its adaptive thresholds.
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        blocks = [torch.ones(size << 20, dtype=torch.uint8) for size in (40, 6, 12)]
        del blocks
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps

faults_per_step(3)
default = faults_per_step()
applied = zoo.keep_freed_memory()
faults_per_step(2)
# The least of five rounds: this machine's kernel may reclaim idle pages behind the process's
# back (DAMON), which faults some of them in again in whichever round it happens.
kept = min(faults_per_step() for _ in range(5))
print(json.dumps({"default": default, "applied": applied, "kept": kept}))
"""


def _probe(**env: str) -> dict:
    run = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120,
        env={**os.environ, **env},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout)


def test_freed_blocks_are_reused_without_page_faults() -> None:
    probe = _probe()
    assert probe["applied"] is True
    # glibc's defaults (after its threshold has adapted) still return the freed blocks to the
    # kernel, so each step faults in the 58 MiB again.
    assert probe["default"] > 1000
    assert probe["kept"] < 1


def test_zoo_keep_freed_memory_0_leaves_the_allocator_alone() -> None:
    probe = _probe(ZOO_KEEP_FREED_MEMORY="0")
    assert probe["applied"] is False
    assert probe["kept"] > 1000
