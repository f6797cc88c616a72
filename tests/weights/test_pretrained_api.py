"""The issue's API: `Model.from_pretrained()`, `zoo.list_models(pretrained=True)`,
`zoo.create_model(name, pretrained=...)` and the `zoo eval` command."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.cli import main
from zoo.hub import pretrained_models
from zoo.weights import WeightError, WeightTable, default_table


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


def test_every_loader_gives_the_recorded_temperature() -> None:
    weight = default_table().get("multifeature_mlp.breast_cancer_v1")
    assert weight.calibration is not None and weight.temperature != 1.0
    for model in (
        zoo.MultiFeatureMLP.from_pretrained(),
        zoo.create_model("multifeature_mlp", pretrained=True),
        zoo.load_pretrained("multifeature_mlp", "breast_cancer_v1"),
    ):
        assert model.temperature == weight.temperature
    assert zoo.create_model("multifeature_mlp").temperature == 1.0  # untrained: none
    assert zoo.LinearRegression.from_pretrained().temperature == 1.0  # regression: none


def test_predict_step_of_a_published_model_applies_the_tables_temperature(tmp_path) -> None:
    # The same file under a table that records another T: predict_step follows the table.
    table = default_table()
    key = "cnn_mnist.mnist_v1"
    data = table.to_dict()
    data["weights"][key]["calibration"]["temperature"] = 2.5
    other = WeightTable(tmp_path / "published.json", table.files_dir, data=data)
    x = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    recorded = zoo.load_pretrained("cnn_mnist", "mnist_v1")
    changed = zoo.load_pretrained("cnn_mnist", "mnist_v1", table=other)
    with torch.no_grad():
        logits = recorded(x)
        assert torch.equal(changed(x), logits)  # the same weights, the same raw logits
        for model, temperature in ((recorded, table.get(key).temperature), (changed, 2.5)):
            expected = (logits / temperature).softmax(dim=-1)
            assert torch.allclose(model.predict_step(x, 0), expected, atol=1e-7)
            assert torch.allclose(model.probabilities(logits), expected, atol=1e-7)
        assert not torch.allclose(recorded.predict_step(x, 0), logits.softmax(dim=-1), atol=1e-3)
