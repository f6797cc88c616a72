"""The typed entry of a published weight: one schema, validated on load, written back unchanged."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import zoo
import zoo.weights.table
from zoo.data import FashionMNISTDataModule, MNISTDataModule
from zoo.hub import load_weight
from zoo.inference.predict import Predictor
from zoo.weights.table import (
    Calibration,
    DatasetInfo,
    EvaluationInfo,
    Metrics,
    Preprocessing,
    TrainingInfo,
    Weight,
    WeightError,
    WeightTable,
    bundled_files_dir,
    default_table,
    empty_table,
)

TABLE = default_table()
RAW = json.loads(TABLE.table_path.read_text(encoding="utf-8"))
KEY = "logistic_regression.toy_v1"


@pytest.mark.parametrize("key", TABLE.keys())
def test_every_shipped_entry_round_trips(key: str) -> None:
    weight = Weight.from_dict(key, RAW["weights"][key])
    assert weight.key == key
    assert weight.to_dict() == RAW["weights"][key]
    assert json.dumps(weight.to_dict(), sort_keys=True) == json.dumps(
        RAW["weights"][key], sort_keys=True
    )  # the same JSON types too: 1.0 stays 1.0, 1 stays 1


def test_the_shipped_table_is_written_back_byte_for_byte() -> None:
    text = json.dumps(TABLE.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert text == TABLE.table_path.read_text(encoding="utf-8")


def test_sections_are_typed_and_frozen() -> None:
    weight = TABLE.get("resnet_mnist.fashion_v1")
    assert isinstance(weight.dataset, DatasetInfo) and weight.dataset.name == "fashion_mnist"
    assert isinstance(weight.preprocessing, Preprocessing)
    assert weight.preprocessing.input_shape == (1, 28, 28)
    assert weight.preprocessing.mean == tuple(FashionMNISTDataModule.mean)
    assert weight.preprocessing.std == tuple(FashionMNISTDataModule.std)
    assert weight.categories == tuple(FashionMNISTDataModule.classes)
    assert isinstance(weight.metrics, Metrics) and weight.metric_value == weight.metrics.value
    assert isinstance(weight.evaluation, EvaluationInfo) and weight.evaluation.device == "cpu"
    assert isinstance(weight.training, TrainingInfo) and weight.training.epochs > 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        weight.preprocessing.mean = (0.5,)  # type: ignore[misc]
    toy = TABLE.get("linear_regression.toy_v1")
    assert toy.preprocessing.mean is None and toy.categories is None


def test_a_weight_does_not_share_state_with_its_json() -> None:
    entry = copy.deepcopy(RAW["weights"][KEY])
    weight = Weight.from_dict(KEY, entry)
    entry["init_args"]["lr"] = 123.0
    entry["dataset"]["init_args"]["extra"] = 1
    assert weight.init_args["lr"] != 123.0 and "extra" not in weight.dataset.init_args
    weight.to_dict()["init_args"]["lr"] = 456.0
    assert weight.init_args["lr"] != 456.0


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def change(entry: dict) -> None:
        *parents, name = path.split(".")
        for parent in parents:
            entry = entry[parent]
        entry[name] = value

    return change


def _drop(path: str) -> Callable[[dict], None]:
    def change(entry: dict) -> None:
        *parents, name = path.split(".")
        for parent in parents:
            entry = entry[parent]
        del entry[name]

    return change


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (_drop("size"), r"missing field size\b"),
        (_drop("dataset.test_sha256"), r"missing field dataset\.test_sha256"),
        (_drop("preprocessing.formula"), r"missing field preprocessing\.formula"),
        (_set("size", "34456"), r"field size must be an integer, got \"34456\""),
        (_set("size", True), r"field size must be an integer, got true"),
        (_set("url", 3), r"field url must be a string or null, got 3"),
        (_set("metrics.value", "1.0"), r"field metrics\.value must be a number"),
        (_set("metrics", [1]), r"field metrics must be an object"),
        (_set("preprocessing.mean", [0.1, "x"]), r"field preprocessing\.mean\[1\] must be a num"),
        (_set("preprocessing.mean", None), r"field preprocessing\.mean must be a list of numbers"),
        (_set("categories", "fail,pass"), r"field categories must be a list of strings or null"),
        (_set("dataset.files_md5", {"a": 1}), r"field dataset\.files_md5\.a must be a string"),
        (_set("training.recipe", 1), r"field training\.recipe must be a string or null"),
        (_set("top5", 0.9), r"unknown field top5 \(the entry has model, tag, file"),
        (_set("metrics.top5", 0.9), r"unknown field metrics\.top5 \(field metrics has name"),
        (_set("sha256", "E" * 64), r"field sha256 must be 64 lower-case hex digits"),
        (_set("sha256", "abc"), r"field sha256 must be 64 lower-case hex digits, got 'abc'"),
        (_set("dataset.test_sha256", "0"), r"field dataset\.test_sha256 must be 64 lower-case"),
        (_set("file", "other.safetensors"), rf"field file must be {KEY}\.safetensors"),
        (_set("tag", "Toy"), r"field tag: invalid tag 'Toy'"),
        (_set("tag", "toy_v2"), r"the key must be model\.tag, but the fields say .*toy_v2"),
        (_set("model", "resnet"), r"field model: 'resnet' is not a registered model"),
    ],
)
def test_a_malformed_entry_names_the_entry_and_the_field(change, error: str) -> None:
    entry = copy.deepcopy(RAW["weights"][KEY])
    change(entry)
    with pytest.raises(WeightError, match=rf"^table\.json: entry {KEY}: {error}") as info:
        Weight.from_dict(KEY, entry, "table.json")
    assert "\n" not in str(info.value) and "restore the table from git" in str(info.value)


def test_a_table_with_a_malformed_entry_is_refused_with_its_path(tmp_path: Path) -> None:
    data = empty_table()
    data["weights"][KEY] = {**RAW["weights"][KEY], "size": -1.5}
    path = tmp_path / "published.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(WeightError, match=rf"^{re.escape(str(path))}: entry {KEY}: field size "):
        WeightTable(path, tmp_path)


def test_with_weight_checks_the_new_entry_like_a_loaded_one(tmp_path: Path) -> None:
    empty = WeightTable(tmp_path / "t.json", tmp_path, data=empty_table())
    weight = TABLE.get(KEY)
    table = empty.with_weight(weight, make_default=True)
    assert table.keys() == [KEY] and table.default_tag(weight.model) == weight.tag
    assert KEY in table and KEY not in empty
    bad = dataclasses.replace(weight, sha256="not hex")
    with pytest.raises(WeightError, match=rf"entry {KEY}: field sha256 must be 64"):
        empty.with_weight(bad)


def test_published_files_live_in_the_package() -> None:
    assert bundled_files_dir() == Path(zoo.weights.table.__file__).resolve().parent / "published"
    assert TABLE.files_dir == bundled_files_dir()
    for weight in TABLE.weights():
        assert TABLE.file_path(weight).is_file() and TABLE.card_path(weight).is_file()


def test_predictor_normalises_with_the_weights_preprocessing() -> None:
    weight = TABLE.get("cnn_mnist.mnist_v1")
    model = load_weight(weight, TABLE, download=False)
    assert weight.preprocessing.mean == tuple(MNISTDataModule.mean)
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    x = torch.from_numpy(images).unsqueeze(1).float() / 255.0
    stats = dataclasses.replace(weight.preprocessing, mean=(0.5,), std=(0.25,))
    for used in (weight, dataclasses.replace(weight, preprocessing=stats)):
        predictor = Predictor(model, used)
        mean, std = used.preprocessing.mean[0], used.preprocessing.std[0]
        with torch.inference_mode():
            expected = (model((x - mean) / std) / weight.temperature).softmax(dim=-1)
        assert torch.allclose(predictor.probabilities(images), expected, atol=1e-6)
    assert predictor.categories == list(weight.categories)


def test_predictor_refuses_a_weight_without_image_statistics() -> None:
    weight = TABLE.get("cnn_mnist.mnist_v1")
    model = load_weight(weight, TABLE, download=False)
    stats = dataclasses.replace(weight.preprocessing, mean=None, std=None)
    with pytest.raises(WeightError, match="no categories or no per-channel mean and std"):
        Predictor(model, dataclasses.replace(weight, preprocessing=stats))


CALIBRATED = "multifeature_mlp.breast_cancer_v1"


def test_the_calibration_section_is_typed() -> None:
    weight = TABLE.get(CALIBRATED)
    cal = weight.calibration
    assert isinstance(cal, Calibration) and cal.fitted_on == "validation" and cal.bins == 15
    assert weight.temperature == cal.temperature != 1.0
    assert 0 < cal.ece_after < cal.ece_before and cal.nll_after < cal.nll_before
    # Absent, not null, where there is none: the regression model has no probabilities.
    toy = TABLE.get("linear_regression.toy_v1")
    assert toy.calibration is None and toy.temperature == 1.0
    assert "calibration" not in RAW["weights"][toy.key]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (_drop("calibration.temperature"), r"missing field calibration\.temperature"),
        (
            _set("calibration.fitted_on", "test"),
            r"field calibration\.fitted_on must be 'validation'",
        ),
        (_set("calibration.temperature", 0), r"field calibration\.temperature must be a positive"),
        (
            _set("calibration.temperature", -0.5),
            r"field calibration\.temperature must be a positive",
        ),
        (
            _set("calibration.temperature", "0.5"),
            r"field calibration\.temperature must be a number",
        ),
        (_set("calibration.samples", 0), r"field calibration\.samples must be at least 1"),
        (_set("calibration.ece_after", 1.5), r"field calibration\.ece_after must be a fraction"),
        (
            _set("calibration.nll_before", -1),
            r"field calibration\.nll_before must be a non-negative",
        ),
        (_set("calibration.split_sha256", "x"), r"field calibration\.split_sha256 must be 64"),
        (_set("calibration.top5", 1), r"unknown field calibration\.top5"),
        (_set("calibration", None), r"field calibration must be an object or left out, got null"),
    ],
)
def test_a_malformed_calibration_names_the_field(change, error: str) -> None:
    entry = copy.deepcopy(RAW["weights"][CALIBRATED])
    change(entry)
    with pytest.raises(WeightError, match=rf"^entry {CALIBRATED}: {error}"):
        Weight.from_dict(CALIBRATED, entry)


def test_a_regression_weight_cannot_record_a_temperature() -> None:
    entry = copy.deepcopy(RAW["weights"]["linear_regression.toy_v1"])
    entry["calibration"] = copy.deepcopy(RAW["weights"][CALIBRATED]["calibration"])
    with pytest.raises(WeightError, match="a regression weight has no probabilities"):
        Weight.from_dict("linear_regression.toy_v1", entry)


def test_predictor_applies_the_weights_temperature() -> None:
    # A Predictor of the same model with another recorded T gives other probabilities: the
    # temperature comes from the weight, as the mean and std do.
    weight = TABLE.get("cnn_mnist.mnist_v1")
    images = np.random.default_rng(1).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    x = (torch.from_numpy(images).unsqueeze(1).float() / 255.0 - 0.1307) / 0.3081
    model = load_weight(weight, TABLE, download=False)
    with torch.inference_mode():
        logits = model(x)
    assert weight.temperature != 1.0
    for temperature in (weight.temperature, 1.0, 3.0):
        cal = dataclasses.replace(weight.calibration, temperature=temperature)
        predictor = Predictor(model, dataclasses.replace(weight, calibration=cal))
        assert predictor.temperature == temperature
        expected = (logits / temperature).softmax(dim=-1)
        assert torch.allclose(predictor.probabilities(images), expected, atol=1e-6)
    fresh = Predictor(zoo.create_model("cnn_mnist"), weight)  # T = 1 until the weight sets it
    assert fresh.temperature == weight.temperature
