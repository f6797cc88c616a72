"""The README's main job: a short, seeded ResNetMNIST training on CPU, then the test accuracy.

What it trains is the `demo` recipe (`recipes/demo.yaml`); this module only adds how the demo
runs: on the CPU, without a logger or checkpoints.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import lightning as L

from zoo.models.base import ZooModule
from zoo.training.precision import training_precision
from zoo.training.recipes import instantiate_recipe, load_recipe, with_values

DEMO_RECIPE = "demo"


def demo_run(
    epochs: int | None = None,
    data_dir: str | Path | None = None,
    seed: int = 0,
    recipe: str | Path = DEMO_RECIPE,
) -> tuple[ZooModule, L.LightningDataModule, L.Trainer]:
    """The demo's model, data and CPU Trainer from `recipe`; `epochs` None: the recipe's."""
    values: dict[str, object] = {"data.init_args.seed": seed}
    if data_dir is not None:
        values["data.init_args.data_dir"] = str(data_dir)
    if epochs is not None:
        values["trainer.max_epochs"] = epochs
    config = with_values(load_recipe(recipe), values)
    L.seed_everything(seed, verbose=False)
    model, data = instantiate_recipe(config)
    trainer = L.Trainer(
        **{
            "precision": training_precision("cpu"),  # as `zoo fit` chooses, unless the recipe says
            **(config.get("trainer") or {}),
            # How the demo runs, whatever the recipe's trainer says: one CPU, nothing written.
            "accelerator": "cpu",
            "devices": 1,
            "logger": False,
            "enable_checkpointing": False,
            "enable_model_summary": False,
        }
    )
    return model, data, trainer


def run_demo(
    epochs: int | None = None,
    data_dir: str | Path | None = None,
    seed: int = 0,
    recipe: str | Path = DEMO_RECIPE,
) -> float:
    """Train the demo recipe's model on the bundled MNIST; return its official test accuracy."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    model, data, trainer = demo_run(epochs, data_dir, seed, recipe)
    trainer.fit(model, data)
    (result,) = trainer.test(model, data, verbose=False)
    return result["test/acc"]
