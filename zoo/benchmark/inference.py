"""Inference speed of one model: eager PyTorch against exported/compiled paths.

Throughput at batch 1024 (images/s) and latency at batch 1 (ms), each the median of repeated
calls after warm-up. Paths: eager (`inference_mode`), ONNX Runtime on an exported graph, and
optionally `torch.compile`. Each path's outputs are checked against eager before it is timed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from zoo.benchmark.measure import clock
from zoo.inference.export import BatchFunction


@dataclass
class InferenceResult:
    """One path's figures; `error` says why a path could not run (then the figures are NaN)."""

    path: str
    throughput: float = float("nan")
    latency_ms: float = float("nan")
    max_abs_diff: float = float("nan")
    setup_s: float = float("nan")
    error: str = ""

    def to_dict(self) -> dict:
        """Plain JSON-ready values."""
        return asdict(self)


def _eager(model: nn.Module, device: torch.device) -> BatchFunction:
    def predict(x: Tensor) -> Tensor:
        with torch.inference_mode():
            return model(x)

    return predict


def _onnxruntime(model: nn.Module, device: torch.device) -> BatchFunction:
    import onnxruntime as ort

    from zoo.inference.export import INPUT_NAME, onnx_bytes

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if device.type == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            # Timing a CPU session against eager on the GPU would compare different machines.
            raise RuntimeError("this onnxruntime has no CUDAExecutionProvider (onnxruntime-gpu)")
        providers.insert(0, "CUDAExecutionProvider")
    session = ort.InferenceSession(onnx_bytes(model), options, providers=providers)

    def predict(x: Tensor) -> Tensor:
        (logits,) = session.run(None, {INPUT_NAME: x.cpu().numpy()})
        return torch.from_numpy(logits)

    return predict


def _compiled(model: nn.Module, device: torch.device) -> BatchFunction:
    compiled = torch.compile(model, dynamic=False)

    def predict(x: Tensor) -> Tensor:
        with torch.inference_mode():
            return compiled(x)

    return predict


PATHS: dict[str, Callable[[nn.Module, torch.device], BatchFunction]] = {
    "eager": _eager,
    "onnxruntime": _onnxruntime,
    "torch.compile": _compiled,
}


def _median_seconds(predict: BatchFunction, x: Tensor, device: torch.device, calls: int) -> float:
    predict(x)
    times = []
    for _ in range(calls):
        start = clock(device)
        predict(x)
        times.append(clock(device) - start)
    return statistics.median(times)


def measure_inference(
    model: nn.Module, device: torch.device, paths: list[str], repeats: int
) -> list[InferenceResult]:
    """Batch-1024 throughput and batch-1 latency of `model` along each of `paths`."""
    model = model.to(device).eval()
    big = torch.randn(1024, *model.input_shape, device=device)
    one = big[:1].clone()
    with torch.inference_mode():
        reference = model(big).float().cpu()
    results = []
    for name in paths:
        result = InferenceResult(name)
        try:
            started = time.perf_counter()
            predict = PATHS[name](model, device)
            result.max_abs_diff = (predict(big).float().cpu() - reference).abs().max().item()
            predict(one)
            result.setup_s = time.perf_counter() - started
            result.throughput = 1024 / _median_seconds(predict, big, device, max(3, repeats))
            result.latency_ms = 1e3 * _median_seconds(predict, one, device, 50 * repeats)
        except Exception as err:  # a path that cannot run here is reported, not fatal
            result.error = f"{type(err).__name__}: {err}"[:300]
        results.append(result)
    return results
