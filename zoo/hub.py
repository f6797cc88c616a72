"""Models with their published weights: the one module that knows models and weights both.

```python
import zoo
zoo.list_models(pretrained=True)                      # the models that have weights
model = zoo.create_model("cnn_mnist", pretrained=True)  # verified, strictly loaded, eval mode
model = zoo.load_pretrained("resnet_mnist", "fashion_v1")
```

A published model divides its logits by the temperature its weight records (fitted on the
validation split) before softmax or sigmoid: `model.probabilities`, `model.predict_step`.
`model(x)` returns the raw logits.

The registry (`zoo.models.registry`) and the weights table (`zoo.weights.table`) are leaves that
know nothing of each other's objects; `Model.from_pretrained()` is the one lazy edge from a model
class to here.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from zoo.models.base import ZooModule
from zoo.models.registry import model_info, model_names, names_of
from zoo.weights.store import read_state_dict, weight_file
from zoo.weights.table import DEFAULT_TAG, Weight, WeightError, WeightTable, cifar_guard
from zoo.weights.table import default_table as _default_table


def list_models(pretrained: bool = False) -> list[str]:
    """The registered model names, sorted; with `pretrained=True` only those with weights."""
    return pretrained_models() if pretrained else model_names()


def pretrained_models(table: WeightTable | None = None) -> list[str]:
    """The registered models that have a default published weight, sorted."""
    return (table or _default_table()).models()


def create_model(name: str, pretrained: bool | str = False, **kwargs: Any) -> ZooModule:
    """A model by registry name, e.g. `create_model("resnet_mnist", lr=0.05)`.

    `pretrained=True` loads the default published weights; a string names a tag.
    """
    if not pretrained:
        return model_info(name).create(**kwargs)
    if kwargs:
        raise ValueError(
            f"create_model({name!r}, pretrained=...) builds the published model as recorded; "
            f"drop the constructor arguments {sorted(kwargs)}"
        )
    return load_pretrained(name, DEFAULT_TAG if pretrained is True else pretrained)


def build_model(weight: Weight, state: dict[str, Tensor]) -> ZooModule:
    """A new model of `weight`'s architecture with `state` loaded strictly, in eval mode, with
    the weight's recorded temperature (so `probabilities` and `predict_step` are calibrated)."""
    model = model_info(weight.model).create(**weight.init_args)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise WeightError(f"{weight.key} does not fit {type(model).__name__}: {err}") from None
    model.temperature = weight.temperature
    return model.eval()


def load_weight(weight: Weight, table: WeightTable, download: bool = True) -> ZooModule:
    """The model of a published weight: file verified, strictly loaded, in eval mode."""
    path = weight_file(weight, table, download=download)
    return build_model(weight, read_state_dict(path, weight))


def model_name(model: str | type[ZooModule], table: WeightTable) -> str:
    """The registry name for a name or a model class (a class under several names must be
    unambiguous: only one of its names may have published weights)."""
    if isinstance(model, str):
        return model
    names = names_of(model)
    if not names:
        raise WeightError(f"{model.__name__} is not a registered zoo model")
    if len(names) == 1:
        return names[0]
    published = [n for n in names if n in table.published_models()]
    if not published:
        for name in names:
            cifar_guard(name, table, label=f"{model.__name__} (as {', '.join(names)})")
        raise WeightError(f"no weights are published for {model.__name__} ({', '.join(names)})")
    if len(published) > 1:
        raise WeightError(
            f"{model.__name__} has weights under several names ({', '.join(published)}); "
            "use zoo.create_model(name, pretrained=True)"
        )
    return published[0]


def load_pretrained(
    model: str | type[ZooModule],
    tag: str = DEFAULT_TAG,
    *,
    download: bool = True,
    table: WeightTable | None = None,
) -> ZooModule:
    """A published model by registry name or class and tag, verified, in eval mode.

    `tag="default"` follows the table's alias. Bundled files load offline; others download once
    into torch's hub cache. Raises `WeightError` (or `KeyError` for an unknown model name) with
    what was wrong and how to fix it, before anything is loaded.
    """
    table = table or _default_table()
    weight = table.resolve(model_name(model, table), tag)
    return load_weight(weight, table, download=download)
