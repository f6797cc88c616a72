"""Every published weight against reality: file, hash, model, card, test accuracy, calibration."""

from __future__ import annotations

import pytest
from safetensors import safe_open

from zoo.data import FashionMNISTDataModule
from zoo.files import sha256_of
from zoo.hub import load_pretrained, load_weight
from zoo.models import model_info, model_names
from zoo.weights import (
    WeightError,
    datamodule_for,
    default_table,
    matches,
    render_card,
    render_weights_table,
)
from zoo.weights.calibration import (
    calibration_obstacle,
    calibration_problems,
    remeasure,
    uncalibrated_reason,
)
from zoo.weights.evaluate import evaluate

TABLE = default_table()
KEYS = TABLE.keys()
EXPECTED = {
    "linear_regression.toy_v1",
    "logistic_regression.toy_v1",
    "multifeature_mlp.breast_cancer_v1",
    "cnn_mnist.mnist_quick",
    "cnn_mnist.mnist_v1",
    "softmax_mnist.mnist_v1",
    "inception_mnist.mnist_v1",
    "resnet_mnist.mnist_v1",
    "resnet_mnist.fashion_v1",
}
# issue 4's targets: single model, official MNIST test set.
TARGETS = {
    "resnet_mnist": 0.995,
    "inception_mnist": 0.994,
    "cnn_mnist": 0.992,
    "softmax_mnist": 0.985,
}


def test_the_small_weights_are_published() -> None:
    assert set(KEYS) >= EXPECTED
    assert {"linear_regression", "logistic_regression", "multifeature_mlp"} <= set(TABLE.models())


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_default_mnist_weights_meet_the_accuracy_targets(name: str) -> None:
    weight = TABLE.resolve(name)
    assert weight.metric_name == "acc"
    assert weight.metric_value >= TARGETS[name]


@pytest.mark.parametrize("key", KEYS)
def test_file_exists_with_recorded_hash_and_size(key: str) -> None:
    weight = TABLE.get(key)
    path = TABLE.file_path(weight)
    assert path.is_file(), f"{path} missing"
    assert path.stat().st_size == weight.size
    assert sha256_of(path) == weight.sha256


@pytest.mark.parametrize("key", KEYS)
def test_file_header_names_its_model(key: str) -> None:
    weight = TABLE.get(key)
    with safe_open(str(TABLE.file_path(weight)), framework="pt") as file:
        header = file.metadata()
    assert header == {"zoo_weight": key}


@pytest.mark.parametrize("key", KEYS)
def test_loads_strictly_in_eval_mode_with_recorded_params(key: str) -> None:
    weight = TABLE.get(key)
    model = load_weight(weight, TABLE, download=False)
    assert isinstance(model, model_info(weight.model).cls)
    assert not model.training
    assert sum(p.numel() for p in model.parameters()) == weight.num_params
    fresh = model_info(weight.model).create(**weight.init_args)
    assert model.state_dict().keys() == fresh.state_dict().keys()


@pytest.mark.parametrize("key", KEYS)
def test_card_is_generated_from_the_table(key: str) -> None:
    weight = TABLE.get(key)
    card = TABLE.card_path(weight)
    assert card.read_text(encoding="utf-8") == render_card(weight, TABLE), (
        f"{card} differs from the table; regenerate with zoo.weights.write_cards()"
    )


def test_every_default_resolves_and_loads() -> None:
    for model in TABLE.models():
        weight = TABLE.resolve(model)
        assert weight.tag == TABLE.default_tag(model)
        assert type(load_pretrained(model)).__name__ == model_info(model).cls.__name__


def test_cifar_models_have_no_weights_and_say_why() -> None:
    cifar = [n for n in model_names() if model_info(n).dataset == "CIFAR-10"]
    assert cifar and not set(cifar) & set(TABLE.published_models())
    for name in cifar:
        with pytest.raises(WeightError, match=r"no CIFAR-10 weights.*zoo fit --config recipes/"):
            load_pretrained(name)
    with pytest.raises(WeightError, match="no CIFAR-10 weights"):
        load_pretrained(model_info("resnet20_cifar10").cls)


def test_unknown_tag_and_model_are_one_clear_error() -> None:
    with pytest.raises(WeightError, match=r"unknown tag 'nope' for linear_regression.*toy_v1"):
        load_pretrained("linear_regression", "nope")
    with pytest.raises(KeyError, match="unknown model 'resnet'"):
        load_pretrained("resnet")


def test_readme_table_lists_every_weight_beside_the_course() -> None:
    text = render_weights_table(TABLE)
    rows = text.splitlines()[2:]
    assert len(rows) == len(KEYS)
    for key in KEYS:
        assert f"[`{key}`](zoo/weights/published/{key}.md)" in text
    # `zoo serve` shows the cards on the page itself and links them by bare file name.
    served = render_weights_table(TABLE, cards_prefix="")
    assert all(f"[`{key}`]({key}.md)" in served for key in KEYS)
    quick = next(r for r in rows if "cnn_mnist.mnist_quick" in r)
    assert "98.71 %" in quick  # the course's CNN accuracy next to ours


# The goal: ECE ≤ 1 % after temperature scaling on the official test set of every image weight.
# (The breast-cancer weight is held to improving: its 114 test samples put it at the noise floor
# of a perfectly calibrated model, about 2.4 %.)
ECE_TARGET = 0.01
UNCALIBRATED = {"linear_regression.toy_v1", "logistic_regression.toy_v1"}


@pytest.mark.parametrize("key", KEYS)
def test_every_classifier_records_a_temperature_or_why_not(key: str) -> None:
    weight = TABLE.get(key)
    cal = weight.calibration
    if key in UNCALIBRATED:
        assert cal is None and weight.temperature == 1.0
        assert uncalibrated_reason(weight)
        return
    assert cal is not None and cal.fitted_on == "validation" and cal.bins == 15
    assert cal.split_sha256 != weight.dataset.test_sha256  # never the test split
    assert cal.ece_after < cal.ece_before and cal.nll_after < cal.nll_before
    if weight.dataset.name in ("mnist", "fashion_mnist"):
        assert cal.ece_after <= ECE_TARGET, f"{key}: test ECE {cal.ece_after:.2%} after T"


@pytest.mark.parametrize("key", KEYS)
def test_reliability_diagram_exists_exactly_for_calibrated_weights(key: str) -> None:
    weight = TABLE.get(key)
    path = TABLE.reliability_path(weight)
    card = TABLE.card_path(weight).read_text(encoding="utf-8")
    assert "## Calibration" in card
    if weight.calibration is None:
        assert not path.exists()
        return
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"]({path.name})" in card


def test_breast_cancer_calibration_reproduces() -> None:
    # The one calibrated weight cheap enough for every run; the slow test below checks them all.
    weight = TABLE.get("multifeature_mlp.breast_cancer_v1")
    model = load_weight(weight, TABLE, download=False)
    remeasured = remeasure(model, datamodule_for(weight), weight)
    assert calibration_problems(remeasured, weight.calibration) == []


@pytest.mark.slow
@pytest.mark.parametrize("key", KEYS)
def test_recorded_calibration_reproduces(key: str, mnist_dir) -> None:
    """The temperature fitted again on the validation split, and NLL and ECE measured again on
    the test split before and after it, are what the table records."""
    weight = TABLE.get(key)
    datamodule = datamodule_for(weight, mnist_dir)
    if isinstance(datamodule, FashionMNISTDataModule) and not datamodule.debian_dir.is_dir():
        pytest.skip("Fashion-MNIST not installed: apt-get install dataset-fashion-mnist")
    model = load_weight(weight, TABLE, download=False)
    if weight.calibration is None:
        assert calibration_obstacle(model, datamodule) == uncalibrated_reason(weight)
        return
    assert model.temperature == weight.temperature
    remeasured = remeasure(model, datamodule, weight)
    assert calibration_problems(remeasured, weight.calibration) == []
    # Accuracy unchanged: the calibrated probabilities have the raw logits' argmax.
    run = remeasured.run
    assert run.after.overall_accuracy == run.before.overall_accuracy == weight.metric_value


@pytest.mark.slow
@pytest.mark.parametrize("key", KEYS)
def test_evaluation_reproduces_the_recorded_metrics(key: str, mnist_dir) -> None:
    weight = TABLE.get(key)
    datamodule = datamodule_for(weight, mnist_dir)
    if isinstance(datamodule, FashionMNISTDataModule) and not datamodule.debian_dir.is_dir():
        pytest.skip("Fashion-MNIST not installed: apt-get install dataset-fashion-mnist")
    model = load_weight(weight, TABLE, download=False)
    result = evaluate(model, datamodule)
    assert matches(result, weight) == []
    if weight.metric_name == "acc":
        assert result.value == weight.metric_value  # exactly, as a count of correct samples
