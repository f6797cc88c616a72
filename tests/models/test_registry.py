"""The registry is data about the models: each entry is held against the class it names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import Tensor, nn

import zoo
from zoo.models import ImageClassifier, registry
from zoo.models.registry import BUILTIN_MODELS, model_info, model_names, names_of, register_model


@pytest.mark.parametrize("info", BUILTIN_MODELS, ids=lambda info: info.name)
def test_each_entry_names_its_real_class_and_parameter_count(info) -> None:
    model = info.create()
    assert type(model).__name__ == info.class_name
    assert info.cls.__module__ == info.class_path.partition(":")[0]
    assert sum(p.numel() for p in model.parameters()) == info.num_params
    if isinstance(model, ImageClassifier):
        assert model.dataset == info.dataset


def test_a_class_under_several_names_is_found_under_all() -> None:
    assert names_of(zoo.ResNetCIFAR) == [f"resnet{d}_cifar10" for d in (110, 20, 32, 44, 56)]
    assert names_of(zoo.ResNetMNIST) == ["resnet_mnist"]


@pytest.fixture
def _forget_test_models() -> Iterator[None]:
    yield
    registry._REGISTRY.pop("test_tiny_image_model", None)


@pytest.mark.usefixtures("_forget_test_models")
def test_a_users_own_model_registers_and_counts_its_parameters() -> None:
    @register_model("test_tiny_image_model", lecture="mine", dataset="MNIST")
    class Tiny(ImageClassifier):
        def __init__(self, **hparams: object) -> None:
            super().__init__(**hparams)
            self.fc = nn.Linear(784, self.num_classes)

        def forward(self, x: Tensor) -> Tensor:
            return self.fc(x.flatten(1))

    info = model_info("test_tiny_image_model")
    assert info.cls is Tiny and info.parameter_count() == 785 * 10
    assert "test_tiny_image_model" in model_names() and "test_tiny_image_model" in zoo.list_models()
    with pytest.raises(ValueError, match="already registered"):
        register_model("test_tiny_image_model", lecture="", dataset="")(Tiny)


IMAGE_MODELS = [i.name for i in BUILTIN_MODELS if i.dataset in ("MNIST", "CIFAR-10")]


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_num_classes_sets_the_output_width(name: str) -> None:
    model = zoo.create_model(name, num_classes=5)
    out = model(torch.randn(2, *model.input_shape))
    assert out.shape == (2, 5)
