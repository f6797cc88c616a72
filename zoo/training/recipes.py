"""The YAML recipes: where they are, finding one by name, and building what one describes.

A recipe is a YAML file under `recipes/` (`resnet_mnist.yaml`, `trainer/gpu.yaml`, ...): the one
place a run's settings are written. `zoo fit --config NAME` reads it through LightningCLI; the
benchmark, the small published runs and `zoo demo` read the same files through this module, so
a value changed in a recipe changes every one of them.

The recipes ship inside the package (`zoo/recipes/` in an installed wheel, from the repository's
top-level `recipes/`, which is what a source checkout and an editable install read).
"""

from __future__ import annotations

import copy
import difflib
import importlib
import inspect
import re
from argparse import ArgumentError
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from zoo.errors import BadInput

if TYPE_CHECKING:
    import lightning as L

    from zoo.models.base import ZooModule

SUFFIX = ".yaml"
# What a recipe name looks like; any other `--config` value (inline YAML such as
# "trainer: {max_epochs: 1}", which jsonargparse accepts too) is left to jsonargparse.
_NAME = re.compile(r"[\w.\-/\\]+")


class RecipeError(BadInput):
    """A recipe that cannot be found or read; the message says which and what to do."""


def recipes_dir() -> Path:
    """The directory holding zoo's recipes: the installed `zoo/recipes/`, else `recipes/` of
    the source checkout zoo runs from."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "recipes"
    if installed.is_dir():
        return installed
    checkout = package.parent / "recipes"
    # The checkout's own folder only: in site-packages a `recipes/` beside zoo is someone else's.
    if checkout.is_dir() and (package.parent / "pyproject.toml").is_file():
        return checkout
    raise RecipeError(
        f"zoo's recipes are missing: neither {installed} (installed zoo) nor {checkout} (source "
        "checkout) exists; reinstall zoo"
    )


def recipe_names() -> list[str]:
    """Every recipe's name: its path under `recipes_dir()` without `.yaml` (`trainer/gpu`)."""
    root = recipes_dir()
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob(f"*{SUFFIX}"))


def recipe_path(name_or_path: str | Path) -> Path:
    """The file of a recipe: an existing file path as given, else the recipe of that name.

    A name is a path under the recipes directory, with or without `.yaml` (`resnet_mnist`,
    `trainer/gpu`, `logger/csv.yaml`); a leading `recipes/` is allowed, so the documented
    `recipes/resnet_mnist.yaml` works from any directory and from an installed zoo.
    """
    given = Path(name_or_path).expanduser()
    if given.is_file():
        return given
    root = recipes_dir()
    name = str(name_or_path).replace("\\", "/").removeprefix("./")
    for stem in dict.fromkeys((name, name.removeprefix("recipes/"))):
        for candidate in (root / stem, root / f"{stem}{SUFFIX}"):
            # `..` must not reach out of the recipes directory.
            if candidate.is_file() and candidate.resolve().is_relative_to(root.resolve()):
                return candidate
    names = recipe_names()
    wanted = name.removeprefix("recipes/").removesuffix(SUFFIX)
    close = difflib.get_close_matches(wanted, names, n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"zoo's recipes: {', '.join(names)}"
    raise RecipeError(
        f"no recipe {str(name_or_path)!r}: not a file, nor a recipe name in {root}; {hint} "
        "(`zoo fit --config NAME` or a path to your own YAML file)"
    )


def _description(path: Path) -> str:
    """The recipe's first comment line, without the `#`."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""


def list_recipes() -> dict[str, str]:
    """Every recipe's name with its one-line description (the first comment line of its file)."""
    root = recipes_dir()
    return {name: _description(root / f"{name}{SUFFIX}") for name in recipe_names()}


def load_recipe(name_or_path: str | Path) -> dict[str, Any]:
    """A recipe (name or path, see `recipe_path`) parsed into a dict."""
    path = recipe_path(name_or_path)
    try:
        recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        problem = " ".join(str(err).split())
        raise RecipeError(f"recipe {path} is not valid YAML: {problem}") from None
    if not isinstance(recipe, dict):
        raise RecipeError(f"recipe {path} is not a YAML mapping (model:, data:, trainer: ...)")
    return recipe


def resolve_config_args(argv: Sequence[str]) -> list[str]:
    """`argv` with every `--config NAME` / `--config=NAME` turned into the recipe's path.

    An existing file stays as given, and so does what is no name: an absolute path (a missing
    one is LightningCLI's error to report) or inline YAML. An unknown name raises `RecipeError`.
    """
    resolved: list[str] = []
    take_value = False
    for arg in argv:
        if take_value:
            resolved.append(_config_value(arg))
            take_value = False
        elif arg == "--config":
            resolved.append(arg)
            take_value = True
        elif arg.startswith("--config="):
            resolved.append(f"--config={_config_value(arg.removeprefix('--config='))}")
        else:
            resolved.append(arg)
    return resolved


def _config_value(value: str) -> str:
    path = Path(value).expanduser()
    if path.is_file() or path.is_absolute() or not _NAME.fullmatch(value):
        return value
    return str(recipe_path(value))


def with_values(recipe: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `recipe` with dotted keys set, as `--trainer.max_epochs 3` would set them.

    `with_values(recipe, {"trainer.max_epochs": 3, "data.init_args.seed": 1})`.
    """
    changed = copy.deepcopy(dict(recipe))
    for dotted, value in values.items():
        *parents, last = dotted.split(".")
        node = changed
        for key in parents:
            if node.get(key) is None:
                node[key] = {}
            if not isinstance(node[key], dict):
                raise RecipeError(f"cannot set {dotted}: {key} is a value, not a section")
            node = node[key]
        node[last] = value
    return changed


def instantiate_recipe(recipe: Mapping[str, Any]) -> tuple[ZooModule, L.LightningDataModule]:
    """The recipe's model and DataModule, built as `zoo fit` builds them.

    jsonargparse (LightningCLI's parser) checks and converts the `model` and `data` sections
    against the classes' signatures, so unset arguments take the signatures' defaults and a
    wrong value fails as it would under `zoo fit`; a model's `in_features` follows the data's.
    The `trainer` section is plain `L.Trainer` keyword arguments: `recipe["trainer"]`.
    """
    import lightning as L
    from jsonargparse import ArgumentParser

    from zoo.models.base import ZooModule

    missing = [key for key in ("model", "data") if not isinstance(recipe.get(key), dict)]
    if missing:
        raise RecipeError(f"the recipe has no {' or '.join(missing)} section (class_path: ...)")
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(ZooModule, "model", required=True)
    parser.add_subclass_arguments(L.LightningDataModule, "data", required=True)
    try:
        config = parser.parse_object({"model": recipe["model"], "data": recipe["data"]})
    except ArgumentError as err:  # jsonargparse's, listing every subtype it tried on its lines
        lines = [line.strip() for line in str(err).splitlines()]
        problem = " ".join(line for line in lines if line and not line.startswith("Given value"))
        raise RecipeError(f"the recipe's model or data does not build: {problem}") from None
    link_in_features(config)
    built = parser.instantiate(config)
    return built.model, built.data


def link_in_features(config: Any) -> None:
    """Set `model.init_args.in_features` from the DataModule's `in_features`, where both exist.

    A model taking `in_features` (MultiFeatureMLP) gets the width of the data it is given
    (30 for the bundled breast-cancer set, 8 for the course's diabetes CSV). Unlike a
    jsonargparse link this leaves other models' hyperparameters untouched, so their
    checkpoints reload cleanly. `zoo fit` and `instantiate_recipe` both apply it.
    """

    def load(class_path: str) -> type:
        module, _, name = str(class_path).rpartition(".")
        return getattr(importlib.import_module(module), name)

    model_class, data_class = load(config.model.class_path), load(config.data.class_path)
    if "in_features" not in inspect.signature(model_class).parameters:
        return
    if not isinstance(getattr(data_class, "in_features", None), property):
        return
    config.model.init_args.in_features = data_class(**config.data.init_args.as_dict()).in_features
