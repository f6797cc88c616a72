"""TopOneAccuracy against torchmetrics' MulticlassAccuracy, and its input check."""

import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy

from zoo.models.metrics import TopOneAccuracy


def test_top_one_accuracy_equals_torchmetrics_micro_accuracy_over_batches() -> None:
    generator = torch.Generator().manual_seed(0)
    ours, reference = TopOneAccuracy(), MulticlassAccuracy(10, average="micro")
    for size in (64, 17, 1, 300):
        logits = torch.randn(size, 10, generator=generator)
        target = torch.randint(0, 10, (size,), generator=generator)
        ours.update(logits, target)
        reference.update(logits.softmax(dim=1), target)
    assert int(ours.total) == 382
    assert ours.compute().item() == pytest.approx(reference.compute().item(), abs=1e-7)
    ours.reset()
    assert ours.compute().item() == 0.0


def test_top_one_accuracy_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"scores \(N, classes\) and targets \(N,\)"):
        TopOneAccuracy().update(torch.zeros(4, 10), torch.zeros(5, dtype=torch.long))
