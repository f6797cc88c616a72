"""zoo's fast training recipe per MNIST model, read from the YAML recipes: what `zoo bench` runs.

The timed recipes are `recipes/bench/<model>.yaml`, one per model in `BENCH_MODELS`; the time to
99 % runs `recipes/resnet_mnist_99.yaml`, and the "as shipped" row times what a user gets from
`zoo fit --config recipes/resnet_mnist.yaml`. Their numbers, and why they are what they are,
live in those files' comments; this module only reads them.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.models.registry import model_info, model_names
from zoo.training.recipes import RecipeError, load_recipe

if TYPE_CHECKING:
    from zoo.models import ZooModule

BENCH_MODELS = ("softmax_mnist", "cnn_mnist", "inception_mnist", "resnet_mnist")
"""The models `zoo bench` times, in this order; each has `recipes/bench/<model>.yaml`."""

FASTEST_TO_99_RECIPE = "resnet_mnist_99"
"""zoo's fastest way to 99 % test accuracy with ResNetMNIST, timed against the course's loop."""

SHIPPED_RECIPE = "resnet_mnist"
"""The recipe a user trains ResNetMNIST with (`zoo fit --config recipes/resnet_mnist.yaml`)."""

# The benchmark builds its own MNIST pipeline (zoo.benchmark.loops.zoo_datamodule) and its own
# loops, so these are all a recipe may set; anything else would be silently ignored.
_USED = {"data": {"batch_size", "augment"}, "trainer": {"max_epochs", "max_steps"}}


@dataclass(frozen=True)
class Recipe:
    """How zoo trains one model: batch size, augmentation, optimizer hyperparameters, epochs
    (and optionally fewer steps), from a recipe."""

    model: str
    batch_size: int
    hparams: dict[str, Any] = field(default_factory=dict)
    epochs: int = 2
    source: str = ""
    augment: bool = False
    max_steps: int | None = None

    @classmethod
    def load(cls, name_or_path: str | Path) -> Recipe:
        """The benchmark's reading of a YAML recipe (a name such as `bench/cnn_mnist` or a path)."""
        recipe = load_recipe(name_or_path)
        where = f"recipe {name_or_path}"
        model = recipe.get("model") or {}
        data = recipe.get("data") or {}
        if "class_path" not in model or "class_path" not in data:
            raise RecipeError(f"{where}: needs model.class_path and data.class_path")
        if _class_name(data["class_path"]) != "MNISTDataModule":
            raise RecipeError(f"{where}: zoo bench trains on MNIST; data.class_path must be "
                              f"zoo.MNISTDataModule, not {data['class_path']}")  # fmt: skip
        sections = {"data": data.get("init_args") or {}, "trainer": recipe.get("trainer") or {}}
        for section, values in sections.items():
            ignored = sorted(set(values) - _USED[section])
            if ignored:
                used = ", ".join(f"{section}.{key}" for key in sorted(_USED[section]))
                raise RecipeError(
                    f"{where}: zoo bench uses only {used} of the {section} section; remove "
                    f"{', '.join(ignored)} (or train it with zoo fit)"
                )
        epochs = sections["trainer"].get("max_epochs")
        if not _positive_int(epochs):
            raise RecipeError(f"{where}: trainer.max_epochs must be a positive integer")
        max_steps = sections["trainer"].get("max_steps")
        # Lightning's "no limit" (-1) is the same as leaving it out.
        max_steps = None if max_steps == -1 else max_steps
        if max_steps is not None and not _positive_int(max_steps):
            raise RecipeError(f"{where}: trainer.max_steps must be a positive integer (or -1)")
        batch_size = sections["data"].get("batch_size", _default(data["class_path"], "batch_size"))
        augment = sections["data"].get("augment", False)
        if not isinstance(augment, bool):
            raise RecipeError(f"{where}: data.init_args.augment must be true or false")
        return cls(
            model=_registry_name(model["class_path"], where),
            batch_size=batch_size,
            hparams=dict(model.get("init_args") or {}),
            epochs=epochs,
            source=str(name_or_path),
            augment=augment,
            max_steps=max_steps,
        )

    def create(self) -> ZooModule:
        """A freshly initialised model with this recipe's hyperparameters."""
        from zoo.hub import create_model

        return create_model(self.model, **self.hparams)


def bench_recipe(model: str) -> Recipe:
    """The timed recipe of `model` (one of `BENCH_MODELS`): `recipes/bench/<model>.yaml`."""
    if model not in BENCH_MODELS:
        raise RecipeError(f"zoo bench times {', '.join(BENCH_MODELS)}; not {model!r}")
    return Recipe.load(f"bench/{model}")


def fastest_to_99() -> Recipe:
    """The ResNetMNIST recipe the time-to-99 % run trains: `recipes/resnet_mnist_99.yaml`."""
    return Recipe.load(FASTEST_TO_99_RECIPE)


def shipped_recipe() -> Recipe:
    """What `zoo fit --config recipes/resnet_mnist.yaml` trains, timed "as shipped"."""
    return Recipe.load(SHIPPED_RECIPE)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _class_name(class_path: str) -> str:
    return str(class_path).replace(":", ".").rpartition(".")[2]


def _registry_name(class_path: str, where: str) -> str:
    """The registry name of `class_path` without fixed arguments: `zoo.CNNMNIST` → `cnn_mnist`."""
    wanted = _class_name(class_path)
    names = [
        n for n in model_names() if model_info(n).class_name == wanted and not model_info(n).kwargs
    ]
    if len(names) != 1:
        raise RecipeError(f"{where}: model.class_path {class_path} is not one registered zoo model")
    return names[0]


def _default(class_path: str, argument: str) -> Any:
    """A constructor argument's default: what a recipe that leaves it out gets."""
    module, _, name = str(class_path).replace(":", ".").rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    return inspect.signature(cls).parameters[argument].default
