"""The benchmark's instruments: FLOP counting, peak RSS and the inference paths."""

from __future__ import annotations

import time

import torch

from zoo.benchmark.inference import measure_inference
from zoo.benchmark.measure import (
    ConvolutionClock,
    convolution_seconds,
    peak_rss,
    train_flops_per_image,
)
from zoo.models import CNNMNIST, ResNetMNIST, SoftmaxMNIST


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


def test_convolution_clock_sees_every_convolution_forward_and_backward() -> None:
    model, x = ResNetMNIST(), torch.randn(4, 1, 28, 28)
    with ConvolutionClock(x.device) as convolutions:
        model(x).sum().backward()
    # Six Conv2d layers, each once forward and once backward (the autograd engine's work too).
    assert convolutions.calls == 12


def test_convolution_clock_times_the_convolutions_and_nothing_else(one_thread) -> None:
    conv, x = torch.nn.Conv2d(64, 64, 3), torch.randn(8, 64, 32, 32, requires_grad=True)
    conv(x).sum().backward()
    shares = []
    # The best of a few tries: on a loaded machine a pause outside the convolutions can land in
    # any one of them.
    for _ in range(5):
        x.grad = conv.weight.grad = conv.bias.grad = None  # so that no gradient is accumulated
        with ConvolutionClock(x.device) as convolutions:
            start = time.perf_counter()
            conv(x).sum().backward()
            elapsed = time.perf_counter() - start
        assert convolutions.seconds <= elapsed
        shares.append(convolutions.seconds / elapsed)
    # A wide convolution is nearly all of this step; the sum and its gradient are tiny.
    assert max(shares) > 0.8, shares


def test_convolution_seconds_is_part_of_the_steps_it_times(one_thread) -> None:
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    assert convolution_seconds(SoftmaxMNIST(), x, y) == 0.0
    model = CNNMNIST()
    start = time.perf_counter()
    per_step = convolution_seconds(model, x, y, steps=3)
    elapsed = time.perf_counter() - start
    # Three timed steps and a warm-up ran in `elapsed`: their convolutions took less.
    assert 0 < 3 * per_step < elapsed
    assert all(p.grad is None for p in model.parameters())
