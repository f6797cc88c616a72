"""Which precisions `zoo bench` measures, and the machine facts the report names with them.

`--precision auto` (the default) times zoo's paths in fp32 and, where the hardware multiplies
bf16 natively (an x86 CPU with AMX or AVX512-BF16, a GPU since Ampere), in bf16 too: the rows a
user of this machine can choose between. On a CPU that would only emulate bf16, `auto` is fp32
alone, the very run it was before bf16 rows existed. `all` adds bf16 wherever it can run, to show
what emulation costs. The course's loop is the course's fp32 script in every case.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from zoo.hardware import cpu_flags as read_cpu_flags
from zoo.hardware import cpu_model, cpu_name
from zoo.training.precision import NATIVE_BF16_FLAGS, cpu_bf16_unit, cpu_isa

PRECISIONS = ("fp32", "bf16")
"""Every precision a benchmark row can be in, in table order."""
PRECISION_CHOICES = ("auto", "fp32", "bf16", "all")
"""The values of `zoo bench --precision`."""
LIGHTNING_PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed"}
"""The Trainer's `precision` for each row's precision."""


def native_bf16(device: torch.device, cpu_flags: Iterable[str] | None = None) -> bool:
    """Whether `device` multiplies bf16 natively (`cpu_flags`: this CPU's, from /proc/cpuinfo).

    On a GPU, compute capability 8.0 or newer; torch's default answer also counts emulation,
    which is slower than fp32, so it is not asked.
    """
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    flags = read_cpu_flags() if cpu_flags is None else frozenset(cpu_flags)
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


def bench_precisions(
    choice: str, device: torch.device, cpu_flags: Iterable[str] | None = None
) -> tuple[str, ...]:
    """The precisions `--precision choice` times on `device`: `auto` adds bf16 only where native."""
    if choice not in PRECISION_CHOICES:
        choices = ", ".join(PRECISION_CHOICES)
        raise ValueError(f"--precision must be one of {choices}, not {choice!r}")
    if choice == "auto":
        return PRECISIONS if native_bf16(device, cpu_flags) else ("fp32",)
    if choice == "all":
        return PRECISIONS
    return (choice,)


def headline_precision(precisions: Iterable[str], native: bool) -> str:
    """The precision the targets are judged in: what zoo trains in here, if it was measured.

    bf16 where the hardware has it natively, otherwise fp32 (bf16 emulated is the slower one);
    when only one precision was measured, that one.
    """
    measured = tuple(precisions)
    if native and "bf16" in measured:
        return "bf16"
    return "fp32" if "fp32" in measured else measured[0]


def precision_of(lightning_precision: str) -> str:
    """The row precision ("fp32" or "bf16") of a Lightning `precision` such as `bf16-mixed`."""
    return "bf16" if str(lightning_precision).startswith("bf16") else "fp32"


def machine(device: torch.device) -> dict[str, Any]:
    """The CPU (model, ISA, bf16 unit) and GPU the run measured on, for results.json and tables."""
    facts: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_name": cpu_name(),
        "isa": cpu_isa(),
        "cpu_bf16_unit": cpu_bf16_unit(),
        "native_bf16": native_bf16(device),
    }
    if device.type == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(device)
    return facts
