"""The model registry: short names (`resnet_mnist`) → classes, with what the course calls them.

A leaf: it imports no model code (and no torch), so `zoo list` and `zoo --help` start in a blink
and the weights table can check model names without building a network. Each built-in model is
one `ModelInfo` in `BUILTIN_MODELS`, naming its class by import path; the class is imported only
when it is asked for. `tests/models/test_registry.py` holds every entry against the real class.
Users add their own models with the `register_model` decorator.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from zoo.errors import BadInput

if TYPE_CHECKING:
    from zoo.models.base import ZooModule

M = TypeVar("M", bound=type)


@dataclass(frozen=True)
class ModelInfo:
    """One registered model: where its class lives, its fixed arguments and where it comes from.

    Args:
        name: the registry name (`resnet_mnist`).
        class_path: `module:Class` of the LightningModule.
        lecture: the lecture (or paper) the network comes from.
        dataset: the data it is built for ("MNIST", "CIFAR-10", "toy", "tabular").
        num_params: parameters of `create()` with no overrides (None: count them when asked).
        kwargs: constructor arguments fixed by this name (e.g. `depth=20`).
        model_class: the class itself, for models registered at run time (`register_model`).
    """

    name: str
    class_path: str
    lecture: str
    dataset: str
    num_params: int | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    model_class: type[ZooModule] | None = field(default=None, repr=False, compare=False)

    @property
    def class_name(self) -> str:
        """The class's name, without importing it (`ResNetMNIST`)."""
        return self.class_path.rpartition(":")[2]

    @property
    def cls(self) -> type[ZooModule]:
        """The model class (imports its module)."""
        if self.model_class is not None:
            return self.model_class
        module, _, name = self.class_path.partition(":")
        return getattr(importlib.import_module(module), name)

    def create(self, **overrides: Any) -> ZooModule:
        """A new, randomly initialised instance."""
        return self.cls(**{**self.kwargs, **overrides})

    def parameter_count(self) -> int:
        """`num_params`, or the count of a freshly built model when the entry has none."""
        if self.num_params is not None:
            return self.num_params
        return sum(p.numel() for p in self.create().parameters())


_MNIST_TITLES = {"10": "10 卷积神经网络基础篇", "11": "11 卷积神经网络高级篇"}
_RESNET_CIFAR = "He et al. 2016 §4.2"

BUILTIN_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("linear_regression", "zoo.models.regression:LinearRegression",
              "5 用PyTorch实现线性回归", "toy", 2),
    ModelInfo("logistic_regression", "zoo.models.regression:LogisticRegression",
              "6 逻辑斯蒂回归", "toy", 2),
    ModelInfo("multifeature_mlp", "zoo.models.multifeature:MultiFeatureMLP",
              "7–8 多维特征输入 / 加载数据集", "tabular", 87),
    ModelInfo("softmax_mnist", "zoo.models.softmax:SoftmaxMNIST", "9 多分类问题", "MNIST", 575050),
    ModelInfo("cnn_mnist", "zoo.models.cnn:CNNMNIST", _MNIST_TITLES["10"], "MNIST", 8490),
    ModelInfo("cnn_cifar10", "zoo.models.cnn:CNNCIFAR", "10 (CIFAR-10 variant)", "CIFAR-10",
              10790),
    ModelInfo("inception_mnist", "zoo.models.inception:InceptionMNIST", _MNIST_TITLES["11"],
              "MNIST", 97298),
    ModelInfo("resnet_mnist", "zoo.models.resnet:ResNetMNIST", _MNIST_TITLES["11"], "MNIST",
              41514),
    *(
        ModelInfo(f"resnet{depth}_cifar10", "zoo.models.resnet:ResNetCIFAR", _RESNET_CIFAR,
                  "CIFAR-10", params, {"depth": depth})
        for depth, params in ((20, 269722), (32, 464154), (44, 658586), (56, 853018),
                              (110, 1727962))
    ),
)  # fmt: skip

_REGISTRY: dict[str, ModelInfo] = {info.name: info for info in BUILTIN_MODELS}


def register_model(name: str, lecture: str, dataset: str, **kwargs: Any) -> Callable[[M], M]:
    """Class decorator adding your own model under `name` (with fixed constructor `kwargs`)."""

    def add(cls: M) -> M:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered")
        path = f"{cls.__module__}:{cls.__qualname__}"
        _REGISTRY[name] = ModelInfo(name, path, lecture, dataset, None, kwargs, cls)
        return cls

    return add


def model_names() -> list[str]:
    """The registered names, sorted (`zoo.list_models(pretrained=True)`: those with weights)."""
    return sorted(_REGISTRY)


def model_info(name: str) -> ModelInfo:
    """The registry entry for `name`, or a clear error listing the valid names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModel(
            f"unknown model {name!r}", f"choose one of: {', '.join(model_names())} (zoo list)"
        ) from None


class UnknownModel(BadInput, KeyError):
    """A model name the registry does not hold (a `KeyError`, as a failed lookup always was)."""


def names_of(cls: type) -> list[str]:
    """The registry names built from `cls` (one class may stand under several names)."""
    path = f"{cls.__module__}:{cls.__qualname__}"
    return [name for name in model_names() if _REGISTRY[name].class_path == path]
