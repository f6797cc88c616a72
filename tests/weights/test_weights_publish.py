"""Publishing real Lightning checkpoints: entry, files and card; refusals write nothing."""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import pytest
import torch
from helpers.short_runs import train

import zoo
from zoo.cli import main
from zoo.files import sha256_of
from zoo.hub import load_pretrained
from zoo.weights import (
    WeightError,
    WeightTable,
    datamodule_for,
    matches,
    render_card,
)
from zoo.weights.evaluate import evaluate
from zoo.weights.publish import publish


@pytest.fixture(scope="module")
def linear_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("linear-run")
    return train(
        root, zoo.LinearRegression(lr=0.05, momentum=0.9), zoo.LinearToyDataModule(), 6, True
    )


@pytest.fixture(scope="module")
def logistic_ckpt_without_timer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("logistic-run")
    model = zoo.LogisticRegression(lr=0.5, momentum=0.9)
    return train(root, model, zoo.LogisticToyDataModule(), 3, False)


@pytest.fixture(scope="module")
def mlp_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mlp-run")
    model = zoo.MultiFeatureMLP(in_features=30, lr=0.01, optimizer="adam")
    return train(root, model, zoo.TabularDataModule(seed=0), 4, True)


@pytest.fixture
def table(tmp_path: Path) -> WeightTable:
    return WeightTable(tmp_path / "published.json", tmp_path / "published")


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_publish_records_real_measurements_and_writes_card(linear_ckpt, table) -> None:
    weight = publish(
        linear_ckpt,
        name="linear_regression",
        tag="run_a",
        seed=0,
        recipe="tests",
        metrics_csv=linear_ckpt.parent / "metrics.csv",
        table=table,
    )
    path = table.file_path(weight)
    assert path.name == "linear_regression.run_a.safetensors"
    assert sha256_of(path) == weight.sha256 and path.stat().st_size == weight.size
    assert weight.num_params == 2 and weight.init_args["lr"] == 0.05
    training = weight.training
    assert (training.epochs, training.steps, training.seed) == (6, 6, 0)
    assert training.wall_time_s > 0 and training.lightning == L.__version__
    assert training.precision == "32-true"  # the run's precision, from the checkpoint
    cpu = next(x for x in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in x)
    assert cpu.split(":", 1)[1].strip() in training.hardware
    assert weight.evaluation.torch == torch.__version__
    assert weight.preprocessing.input_shape == (1,) and weight.preprocessing.mean is None
    assert "mean" not in weight.to_dict()["preprocessing"]  # the toy data is not normalised
    # The recorded MSE is what a fresh evaluation of the checkpoint's own weights measures.
    ckpt = torch.load(linear_ckpt, weights_only=True)
    model = zoo.LinearRegression(lr=0.05, momentum=0.9)
    model.load_state_dict(ckpt["state_dict"])
    assert matches(evaluate(model, datamodule_for(weight)), weight) == []
    assert table.default_tag("linear_regression") == "run_a"
    card = table.card_path(weight).read_text(encoding="utf-8")
    assert card == render_card(weight, table) and "![training curves]" in card
    assert table.curve_path(weight).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert oct(os.stat(path).st_mode & 0o777) != oct(0o600)  # readable like any installed file
    reread = WeightTable(table.table_path, table.files_dir)
    loaded = load_pretrained("linear_regression", table=reread)
    assert torch.equal(loaded.linear.weight, ckpt["state_dict"]["linear.weight"])


def test_existing_tag_is_kept_unless_forced(linear_ckpt, table) -> None:
    first = publish(linear_ckpt, name="linear_regression", tag="v1", seed=0, table=table)
    before = snapshot(table.files_dir.parent)
    with pytest.raises(WeightError, match=r"linear_regression.v1 is already published.*force"):
        publish(linear_ckpt, name="linear_regression", tag="v1", seed=1, table=table)
    assert snapshot(table.files_dir.parent) == before
    weight = publish(
        linear_ckpt, name="linear_regression", tag="v1", seed=1, force=True, table=table
    )
    assert weight.training.seed == 1
    assert weight.sha256 == first.sha256  # same weights: byte-identical file
    # The replacement is written next to the file it replaces, which goes once the table is in.
    assert weight.file == f"linear_regression.v1.{weight.sha256[:16]}.safetensors"
    assert not table.file_path(first).exists() and table.file_path(weight).is_file()
    assert WeightTable(table.table_path, table.files_dir).get("linear_regression.v1") == weight
    third = publish(
        linear_ckpt, name="linear_regression", tag="v1", seed=2, force=True, table=table
    )
    assert third.file == first.file and not table.file_path(weight).exists()


def test_second_tag_moves_the_default_and_updates_both_cards(linear_ckpt, table) -> None:
    first = publish(linear_ckpt, name="linear_regression", tag="v1", seed=0, table=table)
    publish(linear_ckpt, name="linear_regression", tag="v2", seed=0, table=table)
    publish(
        linear_ckpt, name="linear_regression", tag="side", seed=0, make_default=False, table=table
    )
    assert table.default_tag("linear_regression") == "v2"
    assert "| default for the model | no |" in table.card_path(first).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"tag": "Bad-Tag"}, "invalid tag 'Bad-Tag'"),
        ({"tag": "default"}, "'default' is reserved"),
        ({"name": "resnet"}, "unknown model 'resnet'"),
        ({"seed": "0"}, "seed must be the integer"),
        ({"name": "logistic_regression", "wall_time_s": -1.0}, r"wall_time_s \(--wall-time\)"),
        ({"epochs": -1}, r"epochs \(--epochs\) must be a whole number"),
        ({"url": "ftp://example.org/w"}, r"url \(--url\) must be an http:// or https://"),
        ({"name": "softmax_mnist"}, "does not hold a softmax_mnist model"),
        ({"datamodule": "NoSuchModule"}, "unknown DataModule"),
        ({"data_args": {"data_dir": "/tmp"}}, "cannot be recorded"),
        ({"metrics_csv": "/nonexistent/metrics.csv"}, "does not exist"),
    ],
)
def test_invalid_publish_writes_nothing(linear_ckpt, table, tmp_path, kwargs, error) -> None:
    args = {"name": "linear_regression", "tag": "v1", "seed": 0, "table": table, **kwargs}
    with pytest.raises((WeightError, KeyError), match=error):
        publish(linear_ckpt, **args)
    assert snapshot(tmp_path) == {}


def test_checkpoint_without_timer_needs_the_wall_time(logistic_ckpt_without_timer, table) -> None:
    with pytest.raises(WeightError, match="Timer callback"):
        publish(
            logistic_ckpt_without_timer, name="logistic_regression", tag="v1", seed=0, table=table
        )
    assert not table.table_path.exists()
    weight = publish(
        logistic_ckpt_without_timer,
        name="logistic_regression", tag="v1", seed=0, wall_time_s=1.25, table=table,
    )  # fmt: skip
    assert weight.training.wall_time_s == 1.25
    assert weight.metrics.name == "acc"
    assert weight.categories == ("fail", "pass")


def test_checkpoint_that_needs_unpickling_code_is_refused(tmp_path, table) -> None:
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"x": Path("/")}}, evil)
    with pytest.raises(WeightError, match=r"cannot be loaded safely \(weights_only=True\)"):
        publish(evil, name="linear_regression", tag="v1", seed=0, table=table)
    missing = tmp_path / "missing.ckpt"
    with pytest.raises(WeightError, match="does not exist"):
        publish(missing, name="linear_regression", tag="v1", seed=0, table=table)
    assert not table.table_path.exists() and not table.files_dir.exists()


def test_hyperparameters_for_another_model_are_refused(tmp_path, table) -> None:
    ckpt = tmp_path / "mlp.ckpt"
    state = zoo.MultiFeatureMLP(in_features=30).state_dict()
    torch.save({"state_dict": state, "hyper_parameters": {"in_features": 30, "lr": 0.01}}, ckpt)
    with pytest.raises(WeightError, match="hyperparameters do not fit linear_regression"):
        publish(ckpt, name="linear_regression", tag="v1", seed=0, wall_time_s=1.0, table=table)


def test_lightning_cli_class_path_must_match_the_name(linear_ckpt, tmp_path, table) -> None:
    # LightningCLI checkpoints name their class; linear and logistic regression share shapes,
    # so only that record can tell them apart.
    ckpt = torch.load(linear_ckpt, weights_only=True)
    ckpt["hyper_parameters"]["_class_path"] = "zoo.LinearRegression"
    ckpt["hyper_parameters"]["_instantiator"] = "lightning.pytorch.cli.instantiate_module"
    path = tmp_path / "cli.ckpt"
    torch.save(ckpt, path)
    with pytest.raises(WeightError, match=r"zoo\.LinearRegression, not a LogisticRegression"):
        publish(path, name="logistic_regression", tag="v1", seed=0, table=table)
    weight = publish(path, name="linear_regression", tag="v1", seed=0, table=table)
    assert "_class_path" not in weight.init_args


def test_cli_refuses_to_overwrite_a_published_tag(linear_ckpt, capsys) -> None:
    table = zoo.weights.default_table()
    before = snapshot(table.files_dir.parent)
    code = main(
        ["publish", str(linear_ckpt), "--name", "linear_regression", "--tag", "toy_v1", "--seed",
         "0"]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo publish: linear_regression.toy_v1 is already published (")
    assert err.endswith(" — choose another tag, or pass force=True (--force) to replace it\n")
    assert snapshot(table.files_dir.parent) == before


def test_publish_fits_the_temperature_on_the_validation_split(mlp_ckpt, table) -> None:
    weight = publish(
        mlp_ckpt, name="multifeature_mlp", tag="run_a", seed=0, data_args={"seed": 0}, table=table
    )
    cal = weight.calibration
    assert cal is not None and cal.fitted_on == "validation" and cal.samples == 57
    assert cal.split_sha256 != weight.dataset.test_sha256
    assert cal.nll_after <= cal.nll_before
    # The file is the checkpoint's weights; the temperature is the table's, applied on load.
    ckpt = torch.load(mlp_ckpt, weights_only=True)
    reread = WeightTable(table.table_path, table.files_dir)
    loaded = load_pretrained("multifeature_mlp", table=reread)
    assert torch.equal(loaded.linear1.weight, ckpt["state_dict"]["linear1.weight"])
    assert loaded.temperature == cal.temperature
    diagram = table.reliability_path(weight)
    assert diagram.name == "multifeature_mlp.run_a.reliability.png"
    assert diagram.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = table.card_path(weight).read_text(encoding="utf-8")
    assert f"**T = {cal.temperature:.6g}**" in card and f"]({diagram.name})" in card


def test_a_weight_without_a_temperature_says_why_on_its_card(linear_ckpt, table) -> None:
    weight = publish(linear_ckpt, name="linear_regression", tag="v1", seed=0, table=table)
    assert weight.calibration is None and "calibration" not in weight.to_dict()
    assert not table.reliability_path(weight).exists()
    card = table.card_path(weight).read_text(encoding="utf-8")
    assert "## Calibration\n\nNone: a regression model outputs values, not probabilities." in card


def _two_steps(root: Path, data: L.LightningDataModule) -> Path:
    """A real two-step CNNMNIST run on `data`; the path of its checkpoint."""
    trainer = L.Trainer(max_steps=2, limit_val_batches=0, accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)  # fmt: skip
    trainer.fit(zoo.CNNMNIST(), data)
    trainer.save_checkpoint(root / "last.ckpt")
    return root / "last.ckpt"


def test_a_checkpoint_is_measured_on_nothing_but_the_data_it_learned(tmp_path, table) -> None:
    ckpt = _two_steps(tmp_path, zoo.MNISTDataModule(batch_size=32))
    with pytest.raises(WeightError, match=r"--datamodule FashionMNISTDataModule: the checkpoint's "
                       r"run trained with MNISTDataModule — measure it"):  # fmt: skip
        publish(ckpt, name="cnn_mnist", tag="v1", seed=0, wall_time_s=1.0,
                datamodule="FashionMNISTDataModule", table=table)  # fmt: skip
    assert not table.table_path.exists() and not table.files_dir.exists()


def test_a_fashion_checkpoint_is_measured_on_fashion_mnist_by_default(tmp_path, table) -> None:
    if not zoo.FashionMNISTDataModule.debian_dir.is_dir():
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    ckpt = _two_steps(tmp_path, zoo.FashionMNISTDataModule(batch_size=32))
    weight = publish(ckpt, name="cnn_mnist", tag="fashion_v1", seed=0, wall_time_s=1.0,
                     make_default=False, table=table)  # fmt: skip
    assert weight.dataset.datamodule == "FashionMNISTDataModule"
    assert weight.dataset.name == "fashion_mnist"
