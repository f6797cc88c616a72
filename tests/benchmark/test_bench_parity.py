"""zoo's Trainer and a plain PyTorch loop over the same pipeline take the very same steps."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from zoo.benchmark.loops import lightning_steps, new_log, vanilla_steps, zoo_datamodule
from zoo.models import CNNMNIST

STEPS = 20
HPARAMS = {"lr": 0.05, "momentum": 0.9, "nesterov": True, "scheduler": "onecycle"}


def _losses(loop, mnist_dir: Path, data_seed: int = 0, precision: str = "fp32") -> list[float]:
    torch.manual_seed(0)
    model = CNNMNIST(**HPARAMS)
    dm = zoo_datamodule(mnist_dir, batch_size=32, seed=data_seed)
    # Augmentation on: its per-batch seeds must reach the Trainer's batches unchanged too.
    dm.augment = True
    log = new_log(torch.device("cpu"), warmup=1, steps=STEPS, keep_losses=True)
    loop(model, dm, log, STEPS, precision)
    return log.loss_values()


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_trainer_and_vanilla_loop_losses_agree_to_5_decimals(
    mnist_dir: Path, one_thread, precision: str
) -> None:
    # In bf16 too: the Trainer's bf16-mixed autocasts exactly what the vanilla loop does.
    vanilla = _losses(vanilla_steps, mnist_dir, precision=precision)
    trainer = _losses(lightning_steps, mnist_dir, precision=precision)
    assert len(vanilla) == len(trainer) == STEPS
    for step, (a, b) in enumerate(zip(vanilla, trainer, strict=True)):
        assert round(a, 5) == round(b, 5), f"step {step}: vanilla {a:.7f} vs Trainer {b:.7f}"
    assert sum(vanilla[-5:]) < sum(vanilla[:5]), "the model should be learning"


def test_a_different_batch_order_is_detected(mnist_dir: Path, one_thread) -> None:
    # The parity above is only meaningful if the losses depend on the batch order at all.
    reordered = _losses(vanilla_steps, mnist_dir, data_seed=1)
    original = _losses(vanilla_steps, mnist_dir)
    assert any(round(a, 5) != round(b, 5) for a, b in zip(original, reordered, strict=True))
