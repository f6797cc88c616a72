"""Every model recipe (`recipes/*.yaml`, `recipes/bench/*.yaml`) builds and runs one training and
one validation batch (`fast_dev_run`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.cli import RECIPES, fit, recipe

from zoo.data import FashionMNISTDataModule
from zoo.training.lightning_cli import run_cli
from zoo.training.recipes import load_recipe

MODEL_RECIPES = sorted(p.relative_to(RECIPES).as_posix() for p in RECIPES.glob("*.yaml"))
MODEL_RECIPES += sorted(p.relative_to(RECIPES).as_posix() for p in RECIPES.glob("bench/*.yaml"))
SMALL = {
    # The tiny CIFAR fixture has 40 training images: smaller batches and validation split.
    "cifar10": ["--data.init_args.batch_size", "8", "--data.init_args.val_size", "10"],
}


def test_all_recipes_are_listed() -> None:
    expected = {
        "resnet_mnist.yaml", "inception_mnist.yaml", "cnn_mnist.yaml", "softmax_mnist.yaml",
        "multifeature_breast_cancer.yaml", "linear_regression.yaml", "logistic_regression.yaml",
        "cnn_cifar10.yaml", "resnet20_cifar10.yaml", "resnet_fashion_mnist.yaml",
        "resnet_mnist_1epoch.yaml", "cnn_mnist_quick.yaml", "demo.yaml",
        "bench/softmax_mnist.yaml", "bench/cnn_mnist.yaml", "bench/inception_mnist.yaml",
        "bench/resnet_mnist.yaml",
    }  # fmt: skip
    assert expected <= set(MODEL_RECIPES)


@pytest.mark.parametrize("name", MODEL_RECIPES)
def test_recipe_runs_one_batch(
    name: str, runs: Path, mnist_dir: Path, cifar_root: Path, one_thread
):
    args = ["--config", recipe(name), "--trainer.fast_dev_run", "true"]
    if "cifar10" in name:
        args += ["--data.init_args.data_dir", str(cifar_root), *SMALL["cifar10"]]
    if "fashion" in name and not FashionMNISTDataModule.debian_dir.is_dir():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    cli = fit(runs, *args)
    assert cli.trainer.state.finished
    assert cli.trainer.global_step == 1
    # Each recipe names its runs after itself: recipes/bench/cnn_mnist.yaml → runs/bench_cnn_mnist.
    assert load_recipe(name)["name"] == name.removesuffix(".yaml").replace("/", "_")
    assert cli.run_dir == runs / load_recipe(name)["name"] / "version_0"
    params = [p.detach() for p in cli.model.parameters()]
    assert params and all(torch.isfinite(p).all() for p in params)


def test_tabular_in_features_follow_the_data(runs: Path) -> None:
    cli = fit(
        runs, "--config", recipe("multifeature_breast_cancer.yaml"), "--trainer.fast_dev_run", "1"
    )
    assert cli.model.linear1.in_features == cli.datamodule.in_features == 30
    assert cli.model.hparams.in_features == 30


def test_tabular_in_features_follow_a_csv(runs: Path, tmp_path: Path) -> None:
    rows = [",".join([str(i % 7 + j) for j in range(8)] + [str(i % 2)]) for i in range(40)]
    csv = tmp_path / "diabetes.csv"
    csv.write_text("\n".join(rows) + "\n")
    cli = fit(
        runs, "--config", recipe("multifeature_breast_cancer.yaml"), "--trainer.fast_dev_run", "1",
        "--data.init_args.csv_path", str(csv),
    )  # fmt: skip
    assert cli.model.linear1.in_features == 8


@pytest.mark.parametrize("name", MODEL_RECIPES)
def test_print_config_round_trips(name: str, tmp_path: Path, capsys) -> None:
    def printed(*configs: str) -> str:
        args = ["fit", *(a for c in configs for a in ("--config", c)), "--print_config"]
        with pytest.raises(SystemExit) as exit_info:
            run_cli(args)
        assert exit_info.value.code in (0, None)
        return capsys.readouterr().out

    first = printed(recipe(name))
    saved = tmp_path / "saved.yaml"
    saved.write_text(first)
    assert printed(str(saved)) == first
    assert "class_path: zoo." in first


def test_configs_compose_later_wins(capsys) -> None:
    args = ["fit", "--config", recipe("resnet_mnist.yaml"), "--config", recipe("trainer/gpu.yaml")]
    with pytest.raises(SystemExit):
        run_cli([*args, "--trainer.max_epochs", "3", "--print_config"])
    out = capsys.readouterr().out
    assert "precision: bf16-mixed" in out
    assert "accelerator: gpu" in out
    assert "max_epochs: 3" in out
    assert "batch_size: 128" in out  # from the recipe
