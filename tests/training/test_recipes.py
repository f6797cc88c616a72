"""Recipes by name: where they are, how a name resolves, and that what `zoo demo` and the small
published runs train comes from the YAML files."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from helpers.cli import REPO

import zoo.weights
from zoo.cli import main as zoo_main
from zoo.training.demo import demo_run
from zoo.training.precision import training_precision
from zoo.training.recipes import (
    RecipeError,
    instantiate_recipe,
    list_recipes,
    load_recipe,
    recipe_names,
    recipe_path,
    recipes_dir,
    resolve_config_args,
    with_values,
)
from zoo.weights.small_runs import RUNS, SmallRun, build_run

PUBLISHED = Path(zoo.weights.__file__).with_name("published.json")


def edited_copy(name: str, folder: Path, values: dict[str, object]) -> Path:
    """A copy of recipe `name` in `folder` with dotted `values` changed."""
    path = folder / f"{name.replace('/', '_')}.yaml"
    path.write_text(yaml.safe_dump(with_values(load_recipe(name), values)))
    return path


def test_the_source_checkout_reads_its_recipes_folder() -> None:
    assert recipes_dir() == REPO / "recipes"


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("resnet_mnist", "resnet_mnist.yaml"),
        ("resnet_mnist.yaml", "resnet_mnist.yaml"),
        ("trainer/gpu", "trainer/gpu.yaml"),
        ("logger/csv.yaml", "logger/csv.yaml"),
        ("bench/resnet_mnist", "bench/resnet_mnist.yaml"),
        ("slurm/train.sbatch", "slurm/train.sbatch"),
    ],
)
def test_names_resolve_inside_the_recipes_folder(
    name: str, file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing of that name here: the name is looked up
    assert recipe_path(name) == recipes_dir() / file


def test_the_documented_recipes_path_works_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert recipe_path("recipes/resnet_mnist.yaml") == recipes_dir() / "resnet_mnist.yaml"


def test_an_existing_file_wins_over_a_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("resnet_mnist.yaml").write_text("trainer:\n  max_epochs: 1\n")
    assert recipe_path("resnet_mnist.yaml") == Path("resnet_mnist.yaml")
    assert load_recipe("resnet_mnist.yaml") == {"trainer": {"max_epochs": 1}}
    assert recipe_path("resnet_mnist") == recipes_dir() / "resnet_mnist.yaml"


def test_an_unknown_name_lists_the_close_ones() -> None:
    with pytest.raises(RecipeError, match="did you mean resnet_mnist") as info:
        recipe_path("resnet_mnst")
    assert "\n" not in str(info.value)
    with pytest.raises(RecipeError, match=r"zoo's recipes: .*trainer/gpu"):
        recipe_path("nosuch")


def test_a_name_cannot_leave_the_recipes_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert (recipes_dir() / "../pyproject.toml").is_file()
    with pytest.raises(RecipeError):
        recipe_path("../pyproject.toml")


def test_every_recipe_has_a_one_line_description() -> None:
    recipes = list_recipes()
    assert {"resnet_mnist", "trainer/gpu", "logger/csv", "bench/cnn_mnist", "demo"} <= set(recipes)
    assert sorted(recipes) == recipe_names()
    blank = [name for name, description in recipes.items() if len(description) < 20]
    assert not blank, f"recipes without a first comment line: {blank}"
    assert recipes["trainer/gpu"] == "One GPU with bfloat16 mixed precision (Ampere or newer)."


def test_a_file_that_is_no_mapping_is_one_clear_error(tmp_path: Path) -> None:
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(RecipeError, match="not a YAML mapping"):
        load_recipe(listed)
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(broken)


def test_config_arguments_are_rewritten_to_paths(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("trainer:\n  max_epochs: 1\n")
    argv = ["fit", "--config", "resnet_mnist", "--config=trainer/gpu", "--config", str(mine)]
    argv += ["--config", "trainer: {max_epochs: 2}", "--trainer.max_epochs", "3"]
    assert resolve_config_args(argv) == [
        "fit", "--config", str(recipes_dir() / "resnet_mnist.yaml"),
        f"--config={recipes_dir() / 'trainer' / 'gpu.yaml'}", "--config", str(mine),
        "--config", "trainer: {max_epochs: 2}", "--trainer.max_epochs", "3",
    ]  # fmt: skip


def test_zoo_fit_with_an_unknown_recipe_is_one_line_and_exit_2(mnist_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "fit", "--config", "nosuch"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "ZOO_DATA_DIR": str(mnist_dir)},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("zoo fit: no recipe 'nosuch'")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_zoo_fit_by_name(tmp_path: Path, mnist_dir: Path, one_thread) -> None:
    runs = tmp_path / "runs"
    code = zoo_main([
        "fit", "--config", "resnet_mnist", "--config", "logger/csv",
        "--trainer.fast_dev_run", "true", "--trainer.default_root_dir", str(runs),
    ])  # fmt: skip
    assert code == 0
    last = runs / "resnet_mnist" / "version_0" / "checkpoints" / "last.ckpt"
    hparams = torch.load(last, map_location="cpu", weights_only=True)["hyper_parameters"]
    # Not the model's defaults (0.01, 0.0): recipes/resnet_mnist.yaml's values.
    assert (hparams["lr"], hparams["label_smoothing"]) == (0.1, 0.1)


def test_names_compose_later_wins(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        zoo_main(["fit", "--config", "resnet_mnist", "--config=trainer/gpu", "--print_config"])
    out = capsys.readouterr().out
    assert "precision: bf16-mixed" in out and "batch_size: 128" in out


def test_the_wheel_carries_every_recipe() -> None:
    tomllib = pytest.importorskip("tomllib")
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "zoo.recipes" in setuptools["packages"]
    assert setuptools["package-dir"]["zoo.recipes"] == "recipes"
    data = setuptools["package-data"]
    left_out = []
    for path in (REPO / "recipes").rglob("*"):
        if path.is_file():
            package = ".".join(("zoo", *path.parent.relative_to(REPO).parts))
            patterns = data.get(package, [])
            if package not in setuptools["packages"] or not any(
                fnmatch.fnmatch(path.name, p) for p in patterns
            ):
                left_out.append(path.relative_to(REPO / "recipes").as_posix())
    assert not left_out, f"not shipped as package data: {left_out}"


def test_instantiate_fills_defaults_and_links_in_features() -> None:
    model, data = instantiate_recipe(load_recipe("multifeature_breast_cancer"))
    assert model.hparams.in_features == data.in_features == 30  # follows the data, as in zoo fit
    assert model.hparams.momentum == 0.5  # unset: the signature's default
    assert data.batch_size == 32


def test_a_bad_value_does_not_build(tmp_path: Path) -> None:
    recipe = with_values(load_recipe("resnet_mnist"), {"model.init_args.lr": "fast"})
    with pytest.raises(RecipeError, match="lr") as info:
        instantiate_recipe(recipe)
    assert "\n" not in str(info.value)


def test_the_demo_trains_its_recipe(tmp_path: Path) -> None:
    model, data, trainer = demo_run()
    recipe = load_recipe("demo")
    assert model.hparams.lr == recipe["model"]["init_args"]["lr"]
    assert data.batch_size == recipe["data"]["init_args"]["batch_size"]
    assert trainer.max_epochs == recipe["trainer"]["max_epochs"]
    changed = {"model.init_args.lr": 0.05, "data.init_args.batch_size": 32, "trainer.max_epochs": 3}
    model, data, trainer = demo_run(recipe=edited_copy("demo", tmp_path, changed))
    assert (model.hparams.lr, data.batch_size, trainer.max_epochs) == (0.05, 32, 3)
    _, _, trainer = demo_run(epochs=1, recipe=edited_copy("demo", tmp_path, changed))
    assert trainer.max_epochs == 1  # zoo demo --epochs 1
    # The precision zoo fit would choose here, unless the recipe names one.
    assert trainer.precision == training_precision("cpu")
    fp32 = edited_copy("demo", tmp_path, {"trainer.precision": "32-true"})
    assert demo_run(recipe=fp32)[2].precision == "32-true"


@pytest.mark.parametrize("key", sorted(RUNS))
def test_a_small_run_retrains_the_published_hyperparameters(key: str, tmp_path: Path) -> None:
    published = json.loads(PUBLISHED.read_text())["weights"][key]
    model, _, trainer = build_run(RUNS[key], tmp_path)
    assert dict(model.hparams) == published["init_args"]
    assert trainer.max_epochs == published["training"]["epochs"]


def test_a_small_run_reads_its_recipe_file(tmp_path: Path) -> None:
    changed = {"model.init_args.lr": 0.02, "trainer.max_epochs": 7}
    run = SmallRun(recipe=edited_copy("linear_regression", tmp_path, changed), notes="")
    model, _, trainer = build_run(run, tmp_path / "logs")
    assert (model.hparams.lr, trainer.max_epochs) == (0.02, 7)
    assert trainer.log_every_n_steps == 1  # the published curves have every step
