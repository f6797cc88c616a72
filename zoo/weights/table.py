"""The declarative table of published weights (`published.json`) and where their files live.

Every published weight is one entry named `model.tag` (e.g. `resnet_mnist.mnist_v1`); `defaults`
maps a model to the tag `model.default` resolves to. The table is data, written only by
`zoo.weights.publish`; a test checks every entry against the files and the models.

An entry is a typed, frozen `Weight` (with `DatasetInfo`, `Preprocessing`, `Metrics`,
`Calibration`, `EvaluationInfo` and `TrainingInfo` sections), like timm's `PretrainedCfg` or
torchvision's `Weights`: the dataclasses below are the one schema, `Weight.from_dict` checks a
JSON entry against it and `Weight.to_dict` writes it back unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import BadInput
from zoo.files import atomic_write
from zoo.models.registry import model_info, model_names

TABLE_SCHEMA = 1
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_TAG = "default"
# Temperatures are fitted on this split only: the test split measures them.
CALIBRATION_SPLIT = "validation"
# A field with this metadata is left out of the JSON when it is None (the toy models'
# preprocessing has no mean and std), so the table keeps the shape it has always had.
OMIT_NONE = {"omit_none": True}


def split_key(spec: str) -> tuple[str, str]:
    """`resnet_mnist.fashion_v1` → (model, tag); a bare model name gets the `default` tag."""
    name, _, tag = spec.partition(".")
    return name, tag or DEFAULT_TAG


def resolve_key(table: WeightTable, spec: str) -> Weight:
    """The weight `MODEL` or `MODEL.TAG` names in `table`; an unknown model is a `WeightError`
    too (`WeightTable.resolve` raises the registry's `KeyError` for it)."""
    name, tag = split_key(spec)
    if name not in model_names():
        published = ", ".join(table.published_models()) or "none"
        raise WeightError(
            f"unknown model {name!r} in {spec!r}", f"models with published weights: {published}"
        )
    return table.resolve(name, tag)


class WeightError(BadInput):
    """A published weight that cannot be used: unknown, missing, corrupted or mismatched."""


# --- the schema of one entry -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DatasetInfo:
    """The test split a weight was measured on, and how to rebuild it."""

    name: str
    datamodule: str
    init_args: dict[str, Any]
    split: str
    samples: int
    test_sha256: str
    files_md5: dict[str, str] | None
    license: str


@dataclass(frozen=True, kw_only=True)
class Preprocessing:
    """What a model's input must look like: shape per sample, dtype, and the normalisation."""

    input_shape: tuple[int, ...]
    dtype: str
    formula: str
    mean: tuple[float, ...] | None = field(default=None, metadata=OMIT_NONE)
    std: tuple[float, ...] | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class Metrics:
    """The recorded test result: `acc` (with the count of correct samples) or `mse`."""

    name: str
    value: float
    loss: float
    correct: int | None


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """Temperature scaling (Guo et al., ICML 2017): probabilities = softmax(logits / temperature).

    `temperature` was fitted on the validation split (`samples` samples, identified by the
    SHA-256 of its tensors) by minimising the negative log-likelihood; the NLL and the expected
    calibration error (`bins` equal-width confidence bins) are measured on the test split, before
    (T = 1) and after. The logits, hence the predicted classes and the accuracy, do not change.
    """

    temperature: float
    fitted_on: str
    samples: int
    split_sha256: str
    bins: int
    nll_before: float
    nll_after: float
    ece_before: float
    ece_after: float


@dataclass(frozen=True, kw_only=True)
class EvaluationInfo:
    """How the test result was measured (`zoo eval` measures the same way)."""

    batch_size: int
    dtype: str
    device: str
    hardware: str
    torch: str
    lightning: str


@dataclass(frozen=True, kw_only=True)
class TrainingInfo:
    """How the weights were trained."""

    recipe: str | None
    seed: int
    epochs: int
    steps: int
    wall_time_s: float
    hardware: str
    lightning: str
    notes: str
    # The Lightning precision of the run ("bf16-mixed", "32-true"); left out where unrecorded.
    precision: str | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class Weight:
    """One published weight: file, model arguments, data, preprocessing, results, provenance.

    Build one from a table entry with `Weight.from_dict(key, entry)`, which validates it;
    `to_dict()` is the entry again, exactly as `published.json` stores it.
    """

    model: str
    tag: str
    file: str
    sha256: str
    size: int
    url: str | None
    num_params: int
    init_args: dict[str, Any]
    dataset: DatasetInfo
    preprocessing: Preprocessing
    categories: tuple[str, ...] | None
    metrics: Metrics
    evaluation: EvaluationInfo
    training: TrainingInfo
    license: str
    date: str
    # Left out for weights without probabilities (regression) or without a fitted temperature.
    calibration: Calibration | None = field(default=None, metadata=OMIT_NONE)

    @property
    def key(self) -> str:
        """`model.tag`, the weight's name in the table (`resnet_mnist.mnist_v1`)."""
        return f"{self.model}.{self.tag}"

    @property
    def metric_name(self) -> str:
        """`acc` for classifiers, `mse` for regression."""
        return self.metrics.name

    @property
    def metric_value(self) -> float:
        """The recorded test metric."""
        return self.metrics.value

    @property
    def temperature(self) -> float:
        """What the logits are divided by before softmax/sigmoid: the fitted T, or 1."""
        return 1.0 if self.calibration is None else self.calibration.temperature

    @classmethod
    def from_dict(cls, key: str, data: Any, where: str | None = None) -> Weight:
        """The weight of the table entry `key`, or a `WeightError` naming the entry and field.

        Checks every field's presence and type (unknown fields too), that `key` is
        `model.tag` of a registered model with a valid tag, the file name and the SHA-256s.
        `where` (the table's path) starts the message.
        """
        prefix = f"{where}: entry {key}" if where else f"entry {key}"
        try:
            weight = _parse(cls, data, "")
            _check_identity(key, weight)
        except _FieldError as err:
            raise WeightError(
                f"{prefix}: {err}; restore the table from git or publish the weight again"
            ) from None
        return weight

    def to_dict(self) -> dict[str, Any]:
        """The table entry: plain JSON values, the same keys and shape `from_dict` reads."""
        return _dump(self)


class _FieldError(Exception):
    """One field of an entry that does not fit the schema (the message names the field)."""


def _check_identity(key: str, weight: Weight) -> None:
    try:
        check_tag(weight.tag)
    except WeightError as err:
        raise _FieldError(f"field tag: {err}") from None
    if weight.model not in model_names():
        raise _FieldError(
            f"field model: {weight.model!r} is not a registered model (see zoo.list_models())"
        )
    if key != weight.key:
        raise _FieldError(f"the key must be model.tag, but the fields say {weight.key}")
    for name, value in (
        ("sha256", weight.sha256),
        ("dataset.test_sha256", weight.dataset.test_sha256),
    ):
        if not SHA256_PATTERN.match(value):
            raise _FieldError(f"field {name} must be 64 lower-case hex digits, got {value!r}")
    # A replacement is written next to the file it replaces, under the name with its digest.
    names = (f"{key}.safetensors", f"{key}.{weight.sha256[:16]}.safetensors")
    if weight.file not in names:
        raise _FieldError(f"field file must be {names[0]} or {names[1]}, got {weight.file!r}")
    _check_calibration(weight)


def _check_calibration(weight: Weight) -> None:
    cal = weight.calibration
    if cal is None:
        return
    if weight.categories is None:
        raise _FieldError(
            "field calibration: a regression weight has no probabilities to calibrate"
        )
    if cal.fitted_on != CALIBRATION_SPLIT:
        raise _FieldError(
            f"field calibration.fitted_on must be {CALIBRATION_SPLIT!r} (a temperature fitted on "
            f"the test split would flatter its own measurement), got {cal.fitted_on!r}"
        )
    if not SHA256_PATTERN.match(cal.split_sha256):
        raise _FieldError(
            "field calibration.split_sha256 must be 64 lower-case hex digits, "
            f"got {cal.split_sha256!r}"
        )
    # Each test is true only for a valid value: NaN and infinity fail them all.
    checks = (
        ("temperature", lambda v: 0 < v < math.inf, "a positive number"),
        ("samples", lambda v: v >= 1, "at least 1"),
        ("bins", lambda v: v >= 1, "at least 1"),
        ("nll_before", lambda v: 0 <= v < math.inf, "a non-negative number"),
        ("nll_after", lambda v: 0 <= v < math.inf, "a non-negative number"),
        ("ece_before", lambda v: 0 <= v <= 1, "a fraction between 0 and 1"),
        ("ece_after", lambda v: 0 <= v <= 1, "a fraction between 0 and 1"),
    )
    for name, valid, wanted in checks:
        value = getattr(cal, name)
        if not valid(value):
            raise _FieldError(f"field calibration.{name} must be {wanted}, got {value!r}")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _parse(hint: Any, value: Any, path: str, described: Any = None) -> Any:
    """`value` (parsed JSON) as the type `hint`: sections become dataclasses, lists tuples.

    A value of the wrong type is described as `described` (default `hint`) in the error.
    """
    described = hint if described is None else described
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = (a for a in args if a is not type(None))
        if value is None:
            _wrong(described, value, path)
        return _parse(inner, value, path, described)
    if dataclasses.is_dataclass(hint):
        return _parse_section(hint, value, path)
    if origin is tuple:
        if not isinstance(value, list):
            _wrong(described, value, path)
        return tuple(_parse(args[0], item, f"{path}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            _wrong(described, value, path)
        return {k: _parse(args[1], v, f"{path}.{k}") for k, v in value.items()}
    if hint is Any:
        return copy.deepcopy(value)  # a Weight must not share mutable state with its source
    if not _is_instance(value, hint):
        _wrong(described, value, path)
    return value


def _parse_section(cls: type, value: Any, path: str) -> Any:
    where = f"field {path}" if path else "the entry"
    if not isinstance(value, dict):
        raise _FieldError(f"{where} must be an object, got {_shown(value)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    missing = [n for n, f in fields.items() if n not in value and not f.metadata.get("omit_none")]
    unknown = sorted(set(value) - set(fields))
    if missing:
        raise _FieldError(f"missing field{'s' * (len(missing) > 1)} {_paths(path, missing)}")
    if unknown:
        # Name the valid fields: an unknown one is most often a typo or another zoo's table.
        raise _FieldError(
            f"unknown field{'s' * (len(unknown) > 1)} {_paths(path, unknown)} "
            f"({where} has {', '.join(fields)})"
        )
    hints = _hints(cls)
    for name, f in fields.items():
        # Absent means None for these: an explicit null would not be written back the same.
        if f.metadata.get("omit_none") and name in value and value[name] is None:
            wanted = _describe(hints[name]).removesuffix(" or null")
            raise _FieldError(
                f"field {_paths(path, [name])} must be {wanted} or left out, got null"
            )
    parsed = {
        name: _parse(hints[name], value[name], f"{path}.{name}" if path else name)
        for name in fields
        if name in value
    }
    return cls(**parsed)


def _paths(path: str, names: list[str]) -> str:
    return ", ".join(f"{path}.{n}" if path else n for n in names)


def _is_instance(value: Any, hint: Any) -> bool:
    if isinstance(value, bool):  # JSON true/false are not numbers
        return hint is bool
    if hint is float:  # JSON writes 1.0 as 1.0 but a hand-edited 1 is a number too
        return isinstance(value, (int, float))
    return isinstance(value, hint)


_DESCRIPTIONS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = (a for a in args if a is not type(None))
        return f"{_describe(inner)} or null" if type(None) in args else _describe(inner)
    if origin is tuple:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict or dataclasses.is_dataclass(hint):
        return "an object"
    return _DESCRIPTIONS.get(hint, getattr(hint, "__name__", str(hint)))


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if _is_json(value) else repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _wrong(hint: Any, value: Any, path: str) -> typing.NoReturn:
    raise _FieldError(f"field {path} must be {_describe(hint)}, got {_shown(value)}")


def _dump(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _dump(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.metadata.get("omit_none") and getattr(value, f.name) is None)
        }
    if isinstance(value, (tuple, list)):
        return [_dump(item) for item in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


# --- where the files are ---------------------------------------------------------------------


def package_dir() -> Path:
    """The directory of the installed (or checked-out) `zoo` package."""
    return Path(__file__).resolve().parent.parent


def source_root() -> Path | None:
    """The repository root when `zoo` runs from a source checkout, else None."""
    root = package_dir().parent
    return root if (root / "pyproject.toml").is_file() else None


def bundled_files_dir() -> Path:
    """`zoo/weights/published/`: the bundled `.safetensors` files, their cards and curves."""
    return Path(__file__).resolve().parent / "published"


def packaged_table_path() -> Path:
    """The table that ships with the package."""
    return Path(__file__).resolve().parent / "published.json"


# --- the table -------------------------------------------------------------------------------


class WeightTable:
    """A table of published weights in a JSON file, with the directory holding their files.

    Args:
        table_path: the JSON table.
        files_dir: the directory with the `.safetensors` files (and the cards).
        data: the table's contents as JSON values (default: read from `table_path`).
    """

    def __init__(
        self, table_path: str | Path, files_dir: str | Path, data: dict[str, Any] | None = None
    ) -> None:
        self.table_path = Path(table_path)
        self.files_dir = Path(files_dir)
        if data is None:
            data = read_table(self.table_path)
        self._defaults, self._weights = parse_table(data, str(self.table_path))

    def reload(self) -> None:
        """Read the table again from `table_path` (after publishing into it)."""
        self._defaults, self._weights = parse_table(
            read_table(self.table_path), str(self.table_path)
        )

    def to_dict(self) -> dict[str, Any]:
        """The table's contents as JSON values, as `published.json` stores them."""
        return {
            "schema": TABLE_SCHEMA,
            "defaults": dict(self._defaults),
            "weights": {key: weight.to_dict() for key, weight in self._weights.items()},
        }

    def with_weight(self, weight: Weight, make_default: bool = False) -> WeightTable:
        """A copy of this table with `weight` added (or replaced), checked like a loaded one."""
        data = self.to_dict()
        data["weights"][weight.key] = weight.to_dict()
        if make_default:
            data["defaults"][weight.model] = weight.tag
        return WeightTable(self.table_path, self.files_dir, data=data)

    def __contains__(self, key: object) -> bool:
        """Whether the weight `model.tag` is published here."""
        return key in self._weights

    def keys(self) -> list[str]:
        """Every `model.tag`, sorted."""
        return sorted(self._weights)

    def weights(self) -> list[Weight]:
        """Every published weight, sorted by key."""
        return [self._weights[key] for key in self.keys()]

    def models(self) -> list[str]:
        """The models that have a default weight, sorted."""
        return sorted(self._defaults)

    def published_models(self) -> list[str]:
        """The models with at least one published weight, sorted."""
        return sorted({w.model for w in self._weights.values()})

    def tags(self, model: str) -> list[str]:
        """The tags published for `model`, sorted."""
        return sorted(w.tag for w in self._weights.values() if w.model == model)

    def default_tag(self, model: str) -> str | None:
        """The tag `model.default` stands for, if any."""
        return self._defaults.get(model)

    def get(self, key: str) -> Weight:
        """The weight `model.tag` exactly as stored (`KeyError` if there is none)."""
        return self._weights[key]

    def resolve(self, model: str, tag: str = DEFAULT_TAG) -> Weight:
        """The weight for `model` and `tag` (`default` follows the alias), or one clear error."""
        model_info(model)  # unknown model names get the registry's error listing valid names
        cifar_guard(model, self)
        tags = self.tags(model)
        if tag == DEFAULT_TAG:
            default = self.default_tag(model)
            if default is None:
                raise WeightError(_no_default_message(model, tags, self.published_models()))
            tag = default
        key = f"{model}.{tag}"
        if key not in self._weights:
            raise WeightError(
                f"unknown tag {tag!r} for {model}; published tags: {', '.join(tags) or 'none'} "
                f"(or {DEFAULT_TAG!r})"
            )
        return self._weights[key]

    def file_path(self, weight: Weight) -> Path:
        """Where the weight's file is when it is bundled."""
        return self.files_dir / weight.file

    def card_path(self, weight: Weight) -> Path:
        """The generated model card `<model>.<tag>.md`."""
        return self.files_dir / f"{weight.key}.md"

    def curve_path(self, weight: Weight) -> Path:
        """The training-curve plot `<model>.<tag>.png` (may not exist)."""
        return self.files_dir / f"{weight.key}.png"

    def reliability_path(self, weight: Weight) -> Path:
        """The reliability diagram `<model>.<tag>.reliability.png` of a calibrated weight."""
        return self.files_dir / f"{weight.key}.reliability.png"


def _no_default_message(model: str, tags: list[str], models_with_weights: list[str]) -> str:
    if tags:
        return (
            f"{model} has no default published weight; ask for one of its tags explicitly: "
            f"{', '.join(f'{model}.{tag}' for tag in tags)} (from_pretrained({tags[0]!r}))"
        )
    return (
        f"no weights are published for {model}; models with published weights: "
        f"{', '.join(models_with_weights) or 'none'}"
    )


def default_table() -> WeightTable:
    """The table that ships with zoo, with the bundled files."""
    return WeightTable(packaged_table_path(), bundled_files_dir())


def empty_table() -> dict[str, Any]:
    """The contents of a table without weights."""
    return {"schema": TABLE_SCHEMA, "defaults": {}, "weights": {}}


def read_table(path: Path) -> dict[str, Any]:
    """The JSON contents of a table file (a missing file is an empty table); `parse_table`
    checks them."""
    if not path.is_file():
        return empty_table()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise WeightError(f"{path} is not valid JSON ({err}); restore it from git") from err
    return data


def write_table(path: Path, data: dict[str, Any]) -> None:
    """Validate `data`, then replace the table at `path` atomically."""
    parse_table(data, str(path))
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write(path, text.encode("utf-8"))


def parse_table(data: Any, where: str) -> tuple[dict[str, str], dict[str, Weight]]:
    """The defaults and the weights of a table, or `WeightError` naming its first problem."""
    if not isinstance(data, dict) or data.get("schema") != TABLE_SCHEMA:
        raise WeightError(f"{where}: not a zoo weight table of schema {TABLE_SCHEMA}")
    if set(data) != {"schema", "defaults", "weights"}:
        raise WeightError(f"{where}: top-level keys must be schema, defaults and weights")
    if not isinstance(data["weights"], dict) or not isinstance(data["defaults"], dict):
        raise WeightError(f"{where}: defaults and weights must be objects")
    weights = {key: Weight.from_dict(key, entry, where) for key, entry in data["weights"].items()}
    for model, tag in data["defaults"].items():
        if f"{model}.{tag}" not in weights:
            raise WeightError(f"{where}: default {model}.{tag} is not a published weight")
    return dict(data["defaults"]), weights


def check_tag(tag: str) -> None:
    """Raise a clear error for a tag that cannot name a weight."""
    if not isinstance(tag, str) or not TAG_PATTERN.match(tag) or tag == DEFAULT_TAG:
        raise WeightError(
            f"invalid tag {tag!r}: use lower-case letters, digits and '_' (e.g. 'mnist_v1'); "
            f"{DEFAULT_TAG!r} is reserved for the alias"
        )


def cifar_guard(model: str, table: WeightTable, label: str | None = None) -> None:
    """Explain why a CIFAR-10 model has no weights here and how to train them."""
    info = model_info(model)
    if info.dataset != "CIFAR-10" or table.tags(model):
        return
    depth = info.kwargs.get("depth")
    if depth is None:
        fit = f"zoo fit --config recipes/{model}.yaml"
    else:  # one recipe for every ResNet depth
        fit = "zoo fit --config recipes/resnet20_cifar10.yaml"
        fit += f" --model.init_args.depth {depth}" if depth != 20 else ""
    raise WeightError(
        f"no CIFAR-10 weights are published for {label or model}: the machine that builds zoo "
        "has no network and no copy of CIFAR-10, so none could be trained and measured honestly. "
        f"Train them yourself (CIFAR-10 downloads with --data.download true): `{fit}`, then "
        f"publish the checkpoint: `zoo publish RUN.ckpt --name {model if label is None else 'NAME'}"
        " --tag cifar10_v1 --seed SEED`"
    )
