"""The course's baseline: torchvision's per-sample MNIST pipeline and the course's SGD loop."""

from __future__ import annotations

from pathlib import Path

import torch

from zoo.benchmark.course import (
    COURSE_BATCH_SIZE,
    course_loader,
    course_optimizer,
    course_test,
    course_train,
)
from zoo.models import CNNMNIST


def test_course_loader_reads_the_bundled_files_per_sample(mnist_dir: Path) -> None:
    loader = course_loader(mnist_dir)
    assert len(loader.dataset) == 60_000 and loader.batch_size == COURSE_BATCH_SIZE
    images, _ = next(iter(loader))
    assert images.shape == (64, 1, 28, 28) and images.dtype == torch.float32
    # ToTensor + Normalize((0.1307,), (0.3081,)): roughly zero mean, unit spread.
    assert abs(images.mean().item()) < 0.3 and 0.7 < images.std().item() < 1.3
    assert len(course_loader(mnist_dir, train=False).dataset) == 10_000


def test_course_loop_loss_decreases_on_real_mnist(mnist_dir: Path, one_thread) -> None:
    torch.manual_seed(0)
    model = CNNMNIST()
    losses: list[float] = []
    running = course_train(
        model, course_loader(mnist_dir), course_optimizer(model), steps=100,
        on_step=lambda _, loss: losses.append(loss),
    )  # fmt: skip
    assert len(losses) == 100
    assert abs(running - sum(losses)) < 1e-6
    assert sum(losses[-20:]) / 20 < 0.8 * sum(losses[:20]) / 20
    optimizer = course_optimizer(model)
    assert optimizer.defaults["lr"] == 0.01 and optimizer.defaults["momentum"] == 0.5
    assert course_test(model, course_loader(mnist_dir, train=False)) > 0.3
