"""The issue's API: `Model.from_pretrained()`, `zoo.list_models(pretrained=True)`,
`zoo.create_model(name, pretrained=...)` and the `zoo eval` command."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.cli import main
from zoo.hub import pretrained_models
from zoo.weights import WeightError, default_table


def test_from_pretrained_gives_the_default_weights_in_eval_mode() -> None:
    model = zoo.LogisticRegression.from_pretrained()
    assert isinstance(model, zoo.LogisticRegression) and not model.training
    # P(pass | 3 hours) > 0.5 > P(pass | 1 hour), as the course's data says.
    p = model.predict_step(torch.tensor([[1.0], [3.0]]), 0)
    assert p[0] < 0.5 < p[1]
    named = zoo.LogisticRegression.from_pretrained("toy_v1")
    assert torch.equal(named.linear.weight, model.linear.weight)


def test_list_and_create_pretrained() -> None:
    assert zoo.list_models(pretrained=True) == pretrained_models()
    assert "linear_regression" in zoo.list_models(pretrained=True)
    assert set(zoo.list_models(pretrained=True)) < set(zoo.list_models())
    model = zoo.create_model("linear_regression", pretrained=True)
    assert not model.training
    assert abs(model(torch.tensor([[4.0]])).item() - 8.0) < 1e-2  # learned y = 2x
    quick = zoo.create_model("cnn_mnist", pretrained="mnist_quick")
    assert isinstance(quick, zoo.CNNMNIST)


def test_cifar_from_pretrained_explains_and_shows_the_recipe() -> None:
    assert not default_table().tags("resnet20_cifar10")
    with pytest.raises(WeightError, match=r"no CIFAR-10 weights.*zoo fit --config"):
        zoo.ResNetCIFAR.from_pretrained()
    with pytest.raises(WeightError, match="no CIFAR-10 weights"):
        zoo.create_model("cnn_cifar10", pretrained=True)


def test_zoo_eval_command(capsys) -> None:
    assert main(["eval", "logistic_regression"]) == 0
    assert "matches the model card (100.00 %)" in capsys.readouterr().out
