"""`zoo eval`: re-measures a published weight and prints what its model card states."""

from __future__ import annotations

import dataclasses
import re

import pytest

from zoo.hub import load_weight
from zoo.weights import datamodule_for, default_table, matches
from zoo.weights.cli import eval_command
from zoo.weights.evaluate import evaluate

TABLE = default_table()


def card_result(key: str) -> str:
    card = TABLE.card_path(TABLE.get(key)).read_text(encoding="utf-8")
    return re.search(r"\| test (?:accuracy|MSE) \| \*\*([^*]+)\*\*", card).group(1)


@pytest.mark.parametrize("key", ["logistic_regression", "multifeature_mlp.breast_cancer_v1"])
def test_eval_prints_the_cards_accuracy(key: str, capsys: pytest.CaptureFixture) -> None:
    assert eval_command([key]) == 0
    out = capsys.readouterr().out
    weight = TABLE.resolve(*(key.split(".") if "." in key else (key,)))
    stated = card_result(weight.key)  # e.g. "97.37 % (111 / 114)"
    assert f"test accuracy {stated}," in out
    assert "matches the model card" in out


def test_eval_mnist_weight_prints_the_cards_accuracy(mnist_dir, capsys) -> None:
    assert eval_command(["cnn_mnist.mnist_quick", "--data-dir", str(mnist_dir)]) == 0
    out = capsys.readouterr().out
    assert f"test accuracy {card_result('cnn_mnist.mnist_quick')}," in out
    assert "/ 10,000)" in out


def test_eval_regression_prints_mse(capsys) -> None:
    assert eval_command(["linear_regression.toy_v1"]) == 0
    assert "test result MSE " in capsys.readouterr().out


def test_eval_unknown_tag_and_cifar_are_clear_errors(capsys) -> None:
    assert eval_command(["logistic_regression.v0"]) == 2
    assert "unknown tag 'v0'" in capsys.readouterr().err
    assert eval_command(["resnet20_cifar10"]) == 2
    assert "no CIFAR-10 weights are published" in capsys.readouterr().err


def test_a_different_result_is_reported_as_a_mismatch() -> None:
    weight = TABLE.get("logistic_regression.toy_v1")
    result = evaluate(load_weight(weight, TABLE), datamodule_for(weight))
    assert matches(result, weight) == []
    correct = weight.metrics.correct - 1
    other = dataclasses.replace(
        weight,
        metrics=dataclasses.replace(
            weight.metrics, correct=correct, value=correct / weight.dataset.samples
        ),
        dataset=dataclasses.replace(weight.dataset, test_sha256="0" * 64),
    )
    problems = matches(result, other)
    assert len(problems) == 3 and "test split differs" in problems[0]
