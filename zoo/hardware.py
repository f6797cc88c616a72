"""What this machine is: the CPU model, its core count and the vector/matrix units it has.

Read from /proc/cpuinfo (Linux) without importing torch, so commands can name the machine in a
table cheaply; elsewhere the platform's own name is used and the feature list is empty.
"""

from __future__ import annotations

import contextlib
import os
import platform
from functools import cache
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


@cache
def _cpuinfo_field(field: str) -> str | None:
    with contextlib.suppress(OSError):
        for line in CPUINFO.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == field:
                return value.strip()
    return None


def cpu_model() -> str:
    """The CPU's model name, e.g. "AMD EPYC" or "Intel(R) Xeon(R) Platinum 8488C"."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (`avx2`, `avx512f`, `amx_bf16`, …); empty where unknown."""
    return frozenset((_cpuinfo_field("flags") or "").split())


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS says, else all of them)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_name() -> str:
    """The CPU model and the cores this process may use, as tables and model cards print it."""
    return f"{cpu_model()}, {usable_cores()} cores (CPU)"
