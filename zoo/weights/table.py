"""The declarative table of published weights (`published.json`) and where their files live.

Every published weight is one entry named `model.tag` (e.g. `resnet_mnist.mnist_v1`); `defaults`
maps a model to the tag `model.default` resolves to. The table is data, written only by
`zoo.weights.publish`; a test checks every entry against the files and the models.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.files import atomic_write
from zoo.models.registry import model_info, model_names

TABLE_SCHEMA = 1
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*$")
DEFAULT_TAG = "default"

# Top-level keys every entry must have, and the keys inside its sections.
ENTRY_KEYS = {
    "model", "tag", "file", "sha256", "size", "url", "num_params", "init_args", "dataset",
    "preprocessing", "categories", "metrics", "evaluation", "training", "license", "date",
}  # fmt: skip
SECTION_KEYS = {
    "dataset": {"name", "datamodule", "init_args", "split", "samples", "test_sha256", "files_md5",
                "license"},
    "metrics": {"name", "value", "loss", "correct"},
    "evaluation": {"batch_size", "dtype", "device", "hardware", "torch", "lightning"},
    "training": {"recipe", "seed", "epochs", "steps", "wall_time_s", "hardware", "lightning",
                 "notes"},
}  # fmt: skip


def split_key(spec: str) -> tuple[str, str]:
    """`resnet_mnist.fashion_v1` → (model, tag); a bare model name gets the `default` tag."""
    name, _, tag = spec.partition(".")
    return name, tag or DEFAULT_TAG


class WeightError(ValueError):
    """A published weight that cannot be used: unknown, missing, corrupted or mismatched."""


def package_dir() -> Path:
    """The directory of the installed (or checked-out) `zoo` package."""
    return Path(__file__).resolve().parent.parent


def source_root() -> Path | None:
    """The repository root when `zoo` runs from a source checkout, else None."""
    root = package_dir().parent
    return root if (root / "pyproject.toml").is_file() and (root / "checkpoints").is_dir() else None


def bundled_files_dir() -> Path:
    """The directory of the bundled `.safetensors` files (and their cards).

    A wheel carries the repository's `checkpoints/` as the package data directory
    `zoo/checkpoints`; a source checkout (or editable install) reads `checkpoints/` directly.
    """
    installed = package_dir() / "checkpoints"
    if installed.is_dir():
        return installed
    root = source_root()
    return root / "checkpoints" if root is not None else installed


def packaged_table_path() -> Path:
    """The table that ships with the package."""
    return Path(__file__).resolve().parent / "published.json"


@dataclass(frozen=True)
class Weight:
    """One published weight: the entry of the table, with typed access to what code needs."""

    key: str
    entry: dict[str, Any]

    @property
    def model(self) -> str:
        """The registry name of the model (`resnet_mnist`)."""
        return self.entry["model"]

    @property
    def tag(self) -> str:
        """The tag (`mnist_v1`)."""
        return self.entry["tag"]

    @property
    def file(self) -> str:
        """The file name of the `.safetensors` file."""
        return self.entry["file"]

    @property
    def sha256(self) -> str:
        """The SHA-256 of the file, lower-case hex."""
        return self.entry["sha256"]

    @property
    def size(self) -> int:
        """The file's size in bytes."""
        return self.entry["size"]

    @property
    def init_args(self) -> dict[str, Any]:
        """The model's constructor arguments (its hyperparameters at training time)."""
        return self.entry["init_args"]

    @property
    def url(self) -> str | None:
        """Where to download the file when it is not bundled (None: bundled only)."""
        return self.entry.get("url")

    @property
    def metric_name(self) -> str:
        """`acc` for classifiers, `mse` for regression."""
        return self.entry["metrics"]["name"]

    @property
    def metric_value(self) -> float:
        """The recorded test metric."""
        return self.entry["metrics"]["value"]


class WeightTable:
    """A table of published weights in a JSON file, with the directory holding their files.

    Args:
        table_path: the JSON table.
        files_dir: the directory with the `.safetensors` files (and the cards).
        data: the table's contents (default: read from `table_path`).
    """

    def __init__(
        self, table_path: str | Path, files_dir: str | Path, data: dict[str, Any] | None = None
    ) -> None:
        self.table_path = Path(table_path)
        self.files_dir = Path(files_dir)
        if data is None:
            data = read_table(self.table_path)
        else:
            validate_table(data, str(self.table_path))
        self.data = data

    def keys(self) -> list[str]:
        """Every `model.tag`, sorted."""
        return sorted(self.data["weights"])

    def weights(self) -> list[Weight]:
        """Every published weight, sorted by key."""
        return [self.get(key) for key in self.keys()]

    def models(self) -> list[str]:
        """The models that have a default weight, sorted."""
        return sorted(self.data["defaults"])

    def published_models(self) -> list[str]:
        """The models with at least one published weight, sorted."""
        return sorted({w["model"] for w in self.data["weights"].values()})

    def tags(self, model: str) -> list[str]:
        """The tags published for `model`, sorted."""
        return sorted(w["tag"] for w in self.data["weights"].values() if w["model"] == model)

    def default_tag(self, model: str) -> str | None:
        """The tag `model.default` stands for, if any."""
        return self.data["defaults"].get(model)

    def get(self, key: str) -> Weight:
        """The weight `model.tag` exactly as stored."""
        return Weight(key, self.data["weights"][key])

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
        if key not in self.data["weights"]:
            raise WeightError(
                f"unknown tag {tag!r} for {model}; published tags: {', '.join(tags) or 'none'} "
                f"(or {DEFAULT_TAG!r})"
            )
        return self.get(key)

    def file_path(self, weight: Weight) -> Path:
        """Where the weight's file is when it is bundled."""
        return self.files_dir / weight.file

    def card_path(self, weight: Weight) -> Path:
        """The generated model card `<model>.<tag>.md`."""
        return self.files_dir / f"{weight.key}.md"

    def curve_path(self, weight: Weight) -> Path:
        """The training-curve plot `<model>.<tag>.png` (may not exist)."""
        return self.files_dir / f"{weight.key}.png"


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
    """Read and validate a table; a missing file is an empty table."""
    if not path.is_file():
        return empty_table()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise WeightError(f"{path} is not valid JSON ({err}); restore it from git") from err
    validate_table(data, str(path))
    return data


def write_table(path: Path, data: dict[str, Any]) -> None:
    """Validate `data`, then replace the table at `path` atomically."""
    validate_table(data, str(path))
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write(path, text.encode("utf-8"))


def validate_table(data: Any, where: str) -> None:
    """Raise `WeightError` naming the first problem in a table's structure."""
    if not isinstance(data, dict) or data.get("schema") != TABLE_SCHEMA:
        raise WeightError(f"{where}: not a zoo weight table of schema {TABLE_SCHEMA}")
    if set(data) != {"schema", "defaults", "weights"}:
        raise WeightError(f"{where}: top-level keys must be schema, defaults and weights")
    for key, entry in data["weights"].items():
        validate_entry(key, entry, where)
    for model, tag in data["defaults"].items():
        if f"{model}.{tag}" not in data["weights"]:
            raise WeightError(f"{where}: default {model}.{tag} is not a published weight")


def validate_entry(key: str, entry: Any, where: str) -> None:
    """Raise `WeightError` if one entry lacks a field or contradicts its key."""
    if not isinstance(entry, dict):
        raise WeightError(f"{where}: entry {key} is not an object")
    missing = ENTRY_KEYS - set(entry)
    extra = set(entry) - ENTRY_KEYS
    if missing or extra:
        raise WeightError(
            f"{where}: entry {key} has missing {sorted(missing)} / unknown {sorted(extra)} fields"
        )
    for section, keys in SECTION_KEYS.items():
        if not isinstance(entry[section], dict) or set(entry[section]) != keys:
            raise WeightError(f"{where}: entry {key}: {section} must have exactly {sorted(keys)}")
    model, tag = entry["model"], entry["tag"]
    if key != f"{model}.{tag}" or model not in model_names():
        raise WeightError(f"{where}: entry {key} names model {model!r} and tag {tag!r}")
    check_tag(tag)
    if entry["file"] != f"{key}.safetensors" or not re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]):
        raise WeightError(f"{where}: entry {key} needs file {key}.safetensors and a hex sha256")


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
