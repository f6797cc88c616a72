"""The benchmark's instruments: FLOP counting, peak RSS and the inference paths."""

from __future__ import annotations

import torch

from zoo.benchmark.inference import measure_inference
from zoo.benchmark.measure import peak_rss, train_flops_per_image
from zoo.models import SoftmaxMNIST


def test_flop_count_of_the_softmax_mlp_matches_a_hand_count() -> None:
    layers = [(784, 512), (512, 256), (256, 128), (128, 64), (64, 10)]
    forward = sum(2 * i * o for i, o in layers)
    # Backward: weight gradients everywhere, input gradients except for the data itself.
    backward = 2 * forward - 2 * 784 * 512
    assert train_flops_per_image(SoftmaxMNIST(), (1, 28, 28)) == forward + backward


def test_peak_rss_sees_a_large_allocation() -> None:
    with peak_rss() as small:
        torch.zeros(1)
    with peak_rss() as big:
        block = torch.ones(64 * 2**20)  # 256 MiB, touched
        del block
    assert big.mib > 200 and small.mib > 0
    if big.scoped:
        assert big.mib - small.mib > 200


def test_onnxruntime_matches_eager_and_both_are_timed(one_thread) -> None:
    torch.manual_seed(0)
    results = measure_inference(SoftmaxMNIST(), torch.device("cpu"), ["eager", "onnxruntime"], 1)
    assert [r.path for r in results] == ["eager", "onnxruntime"]
    for result in results:
        assert not result.error, result.error
        assert result.throughput > 0 and result.latency_ms > 0
        assert result.max_abs_diff < 1e-4
