"""Measuring instruments: the matmul peak per precision, FLOPs per image, the time spent in
convolutions, peak RSS, a device-aware clock, and the autocast each precision trains under."""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode


def synchronize(device: torch.device) -> None:
    """Wait for queued device work, so that a clock reading means something (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def clock(device: torch.device) -> float:
    """`time.perf_counter()` after the device has caught up."""
    synchronize(device)
    return time.perf_counter()


def training_autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast a row's precision trains under: bf16 as Lightning's `bf16-mixed` does it (on
    CPU and GPU alike), none for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    raise ValueError(f"precision must be fp32 or bf16, not {precision!r}")


MATMUL_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def matmul_peak_gflops(
    device: torch.device, precision: str = "fp32", size: int = 2048, repeats: int = 5
) -> float:
    """Median GFLOP/s of a `size`² matrix product in `precision`, at the current thread setting.

    The bf16 product is what autocast hands the convolutions and linear layers of a bf16 row,
    so each row's share of the peak is against the peak of its own precision.
    """
    dtype = MATMUL_DTYPES[precision]
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    rates = []
    for _ in range(repeats):
        start = clock(device)
        a @ b
        rates.append(2 * size**3 / (clock(device) - start) / 1e9)
    return statistics.median(rates)


def train_flops_per_image(model: nn.Module, input_shape: tuple[int, ...], batch: int = 8) -> float:
    """FLOPs of one forward + backward pass per image, counted by `FlopCounterMode`."""
    device = next(model.parameters()).device
    x = torch.randn(batch, *input_shape, device=device)
    y = torch.zeros(batch, dtype=torch.long, device=device)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / batch


class ConvolutionClock(TorchDispatchMode):
    """Counts and times every convolution op, forward and backward, run under it."""

    # The two aten ops every nn.Conv2d reaches below autograd, whatever kernel they pick.
    OPS = (torch.ops.aten.convolution, torch.ops.aten.convolution_backward)

    def __init__(self, device: torch.device) -> None:
        super().__init__()
        self.device = device
        self.seconds = 0.0
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if func.overloadpacket not in self.OPS:
            return func(*args, **(kwargs or {}))
        start = clock(self.device)
        out = func(*args, **(kwargs or {}))
        self.seconds += clock(self.device) - start
        self.calls += 1
        return out


def convolution_seconds(
    model: nn.Module, x: Tensor, y: Tensor, precision: str = "fp32", steps: int = 5
) -> float:
    """Seconds per training step spent inside the model's convolutions (forward + backward).

    Timed op by op over `steps` real forward/backward passes on the batch `(x, y)` under the
    autocast of `precision`, after one warm-up, so each convolution sees the dtypes, layouts and
    warm caches it has in training. This is a floor on a step: the time left if everything else
    (pooling, activations, loss, optimizer, data) cost nothing.
    """

    def step() -> None:
        with training_autocast(x.device, precision):
            loss = F.cross_entropy(model(x), y)
        loss.backward()

    step()
    with ConvolutionClock(x.device) as convolutions:
        for _ in range(steps):
            step()
    model.zero_grad(set_to_none=True)
    return convolutions.seconds / steps


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class PeakRSS:
    """Peak resident memory of this process during a `with peak_rss()` block, in MiB.

    `scoped` is False where the kernel would not reset the high-water mark: then `mib` is the
    process's peak so far, an upper bound.
    """

    mib: float = 0.0
    scoped: bool = False


@contextmanager
def peak_rss() -> Iterator[PeakRSS]:
    """Measure the peak RSS of the block (Linux resets VmHWM on `echo 5 > clear_refs`)."""
    result = PeakRSS()
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        result.scoped = _status_kib("VmHWM") is not None
    except OSError:
        result.scoped = False
    try:
        yield result
    finally:
        kib = _status_kib("VmHWM") if result.scoped else None
        if kib is None:
            kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result.mib = kib / 1024


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (how busy the machine was)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def median(values: list[float]) -> float:
    """The median, or NaN for no values."""
    return statistics.median(values) if values else float("nan")
