"""The course's own training script, kept faithfully as the benchmark's baseline.

What the course does for every MNIST model: torchvision's `datasets.MNIST` returning PIL images,
`ToTensor()` + `Normalize((0.1307,), (0.3081,))` per sample, a `DataLoader(batch_size=64,
shuffle=True)` with no workers, `CrossEntropyLoss`, `SGD(lr=0.01, momentum=0.5)`, and a loop
that adds `loss.item()` to a running total every step. Only the model classes come from zoo (the
same layers as the course's); the files are the bundled MNIST in torchvision's layout.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

COURSE_BATCH_SIZE = 64
COURSE_LR = 0.01
COURSE_MOMENTUM = 0.5


def course_loader(data_dir: str | Path, train: bool = True) -> DataLoader:
    """The course's per-sample MNIST pipeline over `<data_dir>/MNIST/raw` (never downloads)."""
    from torchvision import datasets, transforms

    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    )
    dataset = datasets.MNIST(root=str(data_dir), train=train, download=False, transform=transform)
    return DataLoader(dataset, batch_size=COURSE_BATCH_SIZE, shuffle=train)


def course_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    """`optim.SGD(model.parameters(), lr=0.01, momentum=0.5)`, as in every course script."""
    return torch.optim.SGD(model.parameters(), lr=COURSE_LR, momentum=COURSE_MOMENTUM)


def course_train(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    steps: int | None = None,
    on_step: Callable[[int, float], None] | None = None,
    device: torch.device | str = "cpu",
) -> float:
    """The course's `train(epoch)`: one pass (or `steps` batches); returns the running loss.

    `on_step(batch_idx, loss)` is called after every optimizer step (the benchmark's clock). On
    a GPU each batch is moved there, as the course's `inputs.to(device)` does.
    """
    criterion = nn.CrossEntropyLoss()
    model.train()
    running_loss = 0.0
    for batch_idx, (inputs, target) in enumerate(loader):
        if steps is not None and batch_idx >= steps:
            break
        inputs, target = inputs.to(device), target.to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, target)
        loss.backward()
        optimizer.step()
        # The course prints the running loss every 300 batches, so it syncs every step.
        value = loss.item()
        running_loss += value
        if on_step is not None:
            on_step(batch_idx, value)
    return running_loss


def course_test(model: nn.Module, loader: DataLoader, device: torch.device | str = "cpu") -> float:
    """The course's `test()`: accuracy on the official test split."""
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            predicted = model(images).argmax(dim=1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    return correct / total
