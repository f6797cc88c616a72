"""`zoo eval`: re-measures a published weight and prints what its model card states."""

from __future__ import annotations

import dataclasses
import re

import pytest

from zoo.cli import main
from zoo.hub import load_weight
from zoo.weights import datamodule_for, default_table, matches
from zoo.weights.calibration import calibration_problems, remeasure
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


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("logistic_regression.v0", "unknown tag 'v0' for logistic_regression"),
        ("resnet20_cifar10", "no CIFAR-10 weights are published"),
        ("resnet.v1", "unknown model 'resnet' in 'resnet.v1' — models with published weights: "),
    ],
)
def test_eval_unknown_weights_are_one_line(spec: str, error: str, capsys) -> None:
    assert main(["eval", spec]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"zoo eval: {error}") and err.count("\n") == 1


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


def test_eval_shows_calibration_before_and_after(capsys) -> None:
    assert eval_command(["multifeature_mlp.breast_cancer_v1"]) == 0
    out = capsys.readouterr().out
    cal = TABLE.get("multifeature_mlp.breast_cancer_v1").calibration
    assert f"calibration: temperature {cal.temperature:.6g}, fitted on 57 validation" in out
    assert re.search(r"before \(T = 1\) +after \(T = 0\.8066\)", out)
    nll = re.search(r"NLL +(\S+) +(\S+)", out)
    assert (float(nll[1]), float(nll[2])) == (cal.nll_before, cal.nll_after)
    ece = re.search(r"ECE +(\S+) % +(\S+) %", out)
    assert (ece[1], ece[2]) == (f"{100 * cal.ece_before:.2f}", f"{100 * cal.ece_after:.2f}")
    assert re.search(r"accuracy +97\.37 % +97\.37 %", out)  # the temperature keeps the argmax
    assert "matches the model card" in out


def test_eval_says_why_a_classifier_has_no_temperature(capsys) -> None:
    assert eval_command(["logistic_regression"]) == 0
    assert "calibration: none (T = 1): its DataModule has no held-out" in capsys.readouterr().out


def test_a_different_calibration_is_reported_as_a_mismatch() -> None:
    weight = TABLE.get("multifeature_mlp.breast_cancer_v1")
    remeasured = remeasure(load_weight(weight, TABLE), datamodule_for(weight), weight)
    assert calibration_problems(remeasured, weight.calibration) == []
    other = dataclasses.replace(
        weight.calibration,
        temperature=weight.temperature * 1.1,
        ece_after=weight.calibration.ece_after + 0.01,
        split_sha256="0" * 64,
    )
    problems = calibration_problems(remeasured, other)
    assert len(problems) == 3
    assert "validation split differs" in problems[0]
    assert "the validation split gives T = 0.806617, recorded 0.887279" in problems[1]
    assert problems[2] == "test ECE after 0.0166685, recorded 0.0266685"


def test_eval_names_a_data_dir_that_is_a_file(tmp_path, capsys) -> None:
    path = tmp_path / "mnist.tar"
    path.write_bytes(b"not a folder")
    assert main(["eval", "cnn_mnist.mnist_quick", "--data-dir", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"zoo eval: --data-dir {path} is a file, not a folder — give the folder the datasets "
        "are kept in, or leave --data-dir out\n"
    )
