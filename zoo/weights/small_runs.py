"""The small published weights, reproducible: `python -m zoo.weights.small_runs [KEY ...]`.

Each run trains one YAML recipe (`recipes/linear_regression.yaml`, ..., `cnn_mnist_quick.yaml`)
with a Lightning Trainer on CPU (with Timer and CSVLogger), saves a checkpoint and publishes it
through `zoo.weights.publish` into the source checkout. These are the course's toy models and
one deliberately short CNN run; the high-accuracy MNIST weights come from `zoo fit` with the
other recipes in `recipes/`.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.loggers import CSVLogger

from zoo.models.base import ZooModule
from zoo.training.recipes import instantiate_recipe, load_recipe
from zoo.weights.publish import publish
from zoo.weights.table import Weight, WeightTable


@dataclass(frozen=True)
class SmallRun:
    """One reproducible training run: the recipe it trains, and how it is published."""

    recipe: str | Path
    notes: str
    seed: int = 0
    make_default: bool = True
    publish_args: dict[str, Any] = field(default_factory=dict)


RUNS: dict[str, SmallRun] = {
    "linear_regression.toy_v1": SmallRun(
        recipe="linear_regression",
        notes="The course's three points (x = 1, 2, 3; y = 2x); test = the same three points.",
    ),
    "logistic_regression.toy_v1": SmallRun(
        recipe="logistic_regression",
        notes="The course's three points (hours 1, 2, 3 → fail, fail, pass); test = the same.",
    ),
    "multifeature_mlp.breast_cancer_v1": SmallRun(
        recipe="multifeature_breast_cancer",
        notes="Breast-cancer data bundled with scikit-learn, seeded 70/10/20 split (seed 0).",
        publish_args={"data_args": {"seed": 0}},
    ),
    "cnn_mnist.mnist_quick": SmallRun(
        recipe="cnn_mnist_quick",
        notes="SHORT RUN: one epoch of the course's settings (SGD lr 0.01, momentum 0.5, batch "
        "64), for tests and as an example; not the course-level weight, hence not the default. "
        "Its wall time was measured on 2 CPU cores shared with other jobs.",
        make_default=False,
    ),
}

# How every small run trains, whatever its recipe's trainer section says: the published weights
# were trained (and timed) on one CPU, with every step in metrics.csv for the card's curves.
PUBLISHING_TRAINER: dict[str, Any] = {
    "accelerator": "cpu",
    "devices": 1,
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "log_every_n_steps": 1,
}


def build_run(
    run: SmallRun, log_dir: str | Path
) -> tuple[ZooModule, L.LightningDataModule, L.Trainer]:
    """The run's model, data and Trainer from its recipe, seeded, logging to `log_dir`."""
    recipe = load_recipe(run.recipe)
    L.seed_everything(run.seed, verbose=False)
    model, data = instantiate_recipe(recipe)
    trainer = L.Trainer(
        **{
            **(recipe.get("trainer") or {}),
            **PUBLISHING_TRAINER,
            "logger": CSVLogger(log_dir, name="", version=""),
            "callbacks": [Timer()],
        }
    )
    return model, data, trainer


def train_and_publish(key: str, table: WeightTable | None = None, force: bool = False) -> Weight:
    """Train run `key` from scratch and publish it (into `table`, default the source checkout)."""
    run = RUNS[key]
    name, tag = key.split(".")
    with tempfile.TemporaryDirectory(prefix="zoo-small-run-") as tmp:
        model, data, trainer = build_run(run, tmp)
        trainer.fit(model, data)
        ckpt = Path(tmp) / "last.ckpt"
        trainer.save_checkpoint(ckpt, weights_only=False)
        return publish(
            ckpt,
            name=name,
            tag=tag,
            seed=run.seed,
            recipe=f"python -m zoo.weights.small_runs {key}",
            notes=run.notes,
            metrics_csv=Path(trainer.logger.log_dir) / "metrics.csv",
            make_default=run.make_default,
            force=force,
            table=table,
            **run.publish_args,
        )


def main(argv: list[str] | None = None) -> int:
    """Train and publish the named runs (default: all of them)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("keys", nargs="*", help=f"runs (default: all): {', '.join(RUNS)}")
    parser.add_argument("--force", action="store_true", help="replace published tags")
    args = parser.parse_args(argv)
    unknown = [key for key in args.keys if key not in RUNS]
    if unknown:
        parser.error(f"unknown run(s) {', '.join(unknown)}; choose from {', '.join(RUNS)}")
    for key in args.keys or list(RUNS):
        weight = train_and_publish(key, force=args.force)
        print(f"{weight.key}: {weight.metric_name} {weight.metric_value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
