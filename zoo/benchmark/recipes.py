"""zoo's fast training recipe per MNIST model: what the benchmark runs as "zoo".

The course trains every model with batch 64 and `SGD(0.01, momentum=0.5)`. zoo's recipes use
larger batches (fewer, better-vectorised steps) with Nesterov momentum 0.9 and a one-cycle
schedule, which keeps the accuracy at the larger batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zoo.models import ZooModule, create_model


@dataclass(frozen=True)
class Recipe:
    """How zoo trains one model: batch size, optimizer hyperparameters, epochs to 99 %."""

    model: str
    batch_size: int
    hparams: dict[str, Any] = field(default_factory=dict)
    epochs: int = 2

    def create(self) -> ZooModule:
        """A freshly initialised model with this recipe's hyperparameters."""
        return create_model(self.model, **self.hparams)


def _sgd(lr: float) -> dict[str, Any]:
    return {"lr": lr, "momentum": 0.9, "nesterov": True, "scheduler": "onecycle"}


RECIPES: dict[str, Recipe] = {
    recipe.model: recipe
    for recipe in (
        Recipe("softmax_mnist", batch_size=512, hparams=_sgd(0.2)),
        Recipe("cnn_mnist", batch_size=256, hparams=_sgd(0.1)),
        Recipe("inception_mnist", batch_size=256, hparams=_sgd(0.1)),
        # Batch 256 at twice the rate: 99.19 % test accuracy after two epochs (seeds 0 and 1),
        # as at batch 128 with rate 0.1 (99.20 %, 99.18 %), with epochs ~14 % shorter.
        Recipe("resnet_mnist", batch_size=256, hparams=_sgd(0.2), epochs=2),
    )
}

# zoo's fastest way to 99 % test accuracy with ResNetMNIST: one epoch, smaller batches for more
# steps, label smoothing. Seeds 0, 1, 2 reach 99.19 %, 99.31 %, 99.30 % (the course's loop needs
# about 9 epochs); batch 256 without smoothing needs 2 epochs.
FASTEST_TO_99 = Recipe(
    "resnet_mnist", batch_size=64, hparams={**_sgd(0.1), "label_smoothing": 0.1}, epochs=1
)
