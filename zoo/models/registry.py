"""The model registry: short names (`resnet_mnist`) → classes, with what the course calls them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from zoo.models.base import ZooModule

M = TypeVar("M", bound=type[ZooModule])


@dataclass(frozen=True)
class ModelInfo:
    """One registered model: its class, default arguments and where it comes from."""

    name: str
    cls: type[ZooModule]
    lecture: str
    dataset: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def create(self, **overrides: Any) -> ZooModule:
        """A new, randomly initialised instance."""
        return self.cls(**{**self.kwargs, **overrides})


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(name: str, lecture: str, dataset: str, **kwargs: Any) -> Callable[[M], M]:
    """Class decorator adding a model under `name` (with fixed constructor `kwargs`)."""

    def add(cls: M) -> M:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered")
        _REGISTRY[name] = ModelInfo(name, cls, lecture, dataset, kwargs)
        return cls

    return add


def list_models(pretrained: bool = False) -> list[str]:
    """The registered model names, sorted; with `pretrained=True` only those with weights."""
    if pretrained:
        from zoo.weights import pretrained_models

        return pretrained_models()
    return sorted(_REGISTRY)


def model_info(name: str) -> ModelInfo:
    """The registry entry for `name`, or a clear error listing the valid names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown model {name!r}; choose one of: {', '.join(list_models())}"
        ) from None


def create_model(name: str, pretrained: bool | str = False, **kwargs: Any) -> ZooModule:
    """A model by registry name, e.g. `create_model("resnet_mnist", lr=0.05)`.

    `pretrained=True` loads the default published weights; a string names a tag.
    """
    if pretrained:
        if kwargs:
            raise ValueError(
                f"create_model({name!r}, pretrained=...) builds the published model as recorded; "
                f"drop the constructor arguments {sorted(kwargs)}"
            )
        from zoo.weights import load_pretrained

        return load_pretrained(name, "default" if pretrained is True else pretrained)
    return model_info(name).create(**kwargs)
