"""Predict with published weights on image files: `Predictor` and `predict_files`.

A `Predictor` pairs a published model with the preprocessing its weights were trained with, so a
photo of a digit goes through the same steps MNIST's own digits did (see `zoo.inference.imaging`),
and with the temperature its weights were calibrated with, so its probabilities are calibrated.
"""

from __future__ import annotations

import fnmatch
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from zoo.inference.imaging import (
    ImageError,
    image_from_array,
    pipeline_for,
    read_image,
    to_grey,
)
from zoo.models.base import ImageClassifier
from zoo.weights.table import Weight, WeightError, WeightTable, default_table, split_key

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class Prediction:
    """The top classes for one file, or why it has none."""

    source: str
    top: list[tuple[int, str, float]] = field(default_factory=list)  # (class, label, probability)
    error: str | None = None

    def to_json(self) -> dict:
        """A JSON-ready dict: the file, its top classes (most probable first) or its error."""
        top = [{"class": c, "label": label, "probability": round(p, 6)} for c, label, p in self.top]
        return {"file": self.source, "top": top, "error": self.error}


class Predictor:
    """A published image model with the preprocessing of its training data and its temperature.

    Args:
        model: the model; put in eval mode, with its temperature set to the weight's.
        weight: its published weight: `categories`, `preprocessing` (mean/std), dataset and
            `calibration` (the temperature the probabilities divide the logits by).
    """

    def __init__(self, model: ImageClassifier, weight: Weight) -> None:
        if not isinstance(model, ImageClassifier):
            raise WeightError(f"{weight.key} is not an image classifier; predict needs one")
        self.model = model.eval()
        # The weight's record decides, as it does for the mean and std: a model built by hand
        # (a fresh one has T = 1) gives the same probabilities as the one zoo.hub builds.
        self.model.temperature = weight.temperature
        self.weight = weight
        preprocessing = weight.preprocessing
        if not weight.categories or preprocessing.mean is None or preprocessing.std is None:
            raise WeightError(
                f"{weight.key} records no categories or no per-channel mean and std; predict "
                "needs the weight of an image classifier"
            )
        self.categories: list[str] = list(weight.categories)
        self.pipeline = pipeline_for(weight.dataset.name)
        self.mean = torch.tensor(preprocessing.mean).view(1, -1, 1, 1)
        self.std = torch.tensor(preprocessing.std).view(1, -1, 1, 1)

    @classmethod
    def from_pretrained(cls, spec: str, table: WeightTable | None = None) -> Predictor:
        """`resnet_mnist` (its default weights) or `resnet_mnist.fashion_v1`, loaded offline."""
        from zoo.hub import load_weight
        from zoo.models import model_info

        table = table or default_table()
        name, tag = split_key(spec)
        weight = table.resolve(name, tag)
        if not issubclass(model_info(name).cls, ImageClassifier):  # refused before it is built
            raise WeightError(f"{weight.key} is not an image classifier; predict needs one")
        return cls(load_weight(weight, table), weight)

    @property
    def key(self) -> str:
        """The weight's `model.tag`."""
        return self.weight.key

    def prepare(self, image: Image.Image | np.ndarray) -> np.ndarray:
        """The uint8 (28, 28) image the model sees, made as its training data was.

        `image` is a PIL image of any mode, or uint8 pixels shaped (H, W) or (H, W, C);
        `ImageError` says what is wrong with anything else (a file: use `read_image`).
        """
        if isinstance(image, np.ndarray):
            image = image_from_array(image)
        elif not isinstance(image, Image.Image):
            raise ImageError(
                f"cannot prepare a {type(image).__name__}",
                "pass a PIL image or a uint8 array; for a file, prepare(read_image(path))",
            )
        if image.width == 0 or image.height == 0:
            raise ImageError(f"the image has no pixels ({image.width}×{image.height})")
        return self.pipeline(to_grey(image))

    @property
    def temperature(self) -> float:
        """The temperature the logits are divided by before the softmax (1: none recorded)."""
        return self.model.temperature

    def probabilities(self, inputs: np.ndarray) -> Tensor:
        """Calibrated class probabilities (N, classes), softmax(logits / T), for uint8 inputs
        (N, 28, 28) from `prepare` (other real dtypes are taken as pixel values 0-255)."""
        x = torch.from_numpy(self._pixels(inputs)).unsqueeze(1)
        x = (x / 255.0 - self.mean) / self.std
        with torch.inference_mode():
            return self.model.probabilities(self.model(x))

    def _pixels(self, inputs: np.ndarray) -> np.ndarray:
        # Float32 pixel values 0-255: NaN would come out as NaN probabilities, not an error.
        array = np.asarray(inputs)
        side = tuple(self.model.input_shape[-2:])
        what = f"pass uint8 pixels shaped (N, {side[0]}, {side[1]}), as prepare() makes them"
        if array.ndim != 3 or array.shape[1:] != side or array.dtype.kind not in "uif":
            raise ImageError(f"cannot use {array.dtype} inputs shaped {array.shape}", what)
        pixels = np.ascontiguousarray(array, dtype=np.float32)
        if pixels.size and not np.isfinite(pixels).all():
            raise ImageError("the inputs hold NaN or infinite values", what)
        if pixels.size and (pixels.min() < 0 or pixels.max() > 255):
            raise ImageError(
                f"the inputs range from {pixels.min():g} to {pixels.max():g}, not 0-255", what
            )
        return pixels

    def top(self, probabilities: Tensor, k: int) -> list[tuple[int, str, float]]:
        """The `k` most probable (class, category, probability) of one row."""
        indices = probabilities.topk(min(k, len(self.categories))).indices.tolist()
        return [(i, self.categories[i], float(probabilities[i])) for i in indices]

    def predict_files(
        self, sources: Iterable[str | Path], top_k: int = 3, batch_size: int = 256
    ) -> Iterator[Prediction]:
        """Predictions for files in order, `batch_size` images at a time; a file that cannot be
        used gets its error and the others still get predictions."""
        batch: list[tuple[str, np.ndarray | None, str | None]] = []
        for source in sources:
            batch.append(self._load(str(source)))
            if len(batch) == batch_size:
                yield from self._run(batch, top_k)
                batch = []
        yield from self._run(batch, top_k)

    def _load(self, source: str) -> tuple[str, np.ndarray | None, str | None]:
        try:
            return source, self.prepare(read_image(source)), None
        except ImageError as error:
            return source, None, _explain(source, error)

    def _run(
        self, batch: list[tuple[str, np.ndarray | None, str | None]], top_k: int
    ) -> Iterator[Prediction]:
        good = [image for _, image, _ in batch if image is not None]
        rows = iter(self.probabilities(np.stack(good)) if good else [])
        for source, image, error in batch:
            if image is None:
                yield Prediction(source, error=error)
            else:
                yield Prediction(source, top=self.top(next(rows), top_k))


def _explain(source: str, error: ImageError) -> str:
    path = Path(source)
    if path.is_dir():
        return f"no image files ({', '.join(IMAGE_SUFFIXES)}) in this directory"
    if not path.exists() and GLOB_CHARACTERS & set(source):
        return "no files match this pattern"
    return str(error)


def expand_sources(arguments: Sequence[str]) -> list[str]:
    """Files named directly, the image files of directories (sorted, not recursive), and glob
    matches (`**` recurses, following links to directories but entering each one once).

    Each file comes once, however many paths lead to it (links, a loop of links). An argument
    that matches nothing is kept, to get its error; so is a directory entry with an image
    suffix that is not a readable file (a broken link, a FIFO), to say that it was skipped.
    """
    files: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            entries = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            files += [str(p) for p in entries] or [argument]
        elif not path.exists() and GLOB_CHARACTERS & set(argument):
            files += sorted(glob_once(argument)) or [argument]
        else:
            files.append(argument)
    return _each_file_once(files)


def _identity(path: str) -> tuple[int, int] | str:
    try:
        info = os.stat(path)
    except OSError:  # a broken link or a missing file: its own path is all it has
        return os.path.abspath(path)
    return info.st_dev, info.st_ino


def _each_file_once(paths: Iterable[str]) -> list[str]:
    seen: set[tuple[int, int] | str] = set()
    unique = []
    for path in paths:
        identity = _identity(path)
        if identity not in seen:
            seen.add(identity)
            unique.append(path)
    return unique


def glob_once(pattern: str) -> list[str]:
    """The paths matching `pattern` as `glob.glob(pattern, recursive=True)` finds them, except
    that each directory is searched once per part of the pattern: a loop of links, which
    makes `glob` list every file dozens of times (or, with two links, 2^40 times), ends."""
    parts = Path(pattern).parts
    fixed = next((i for i, part in enumerate(parts) if GLOB_CHARACTERS & set(part)), len(parts))
    root = os.path.join(*parts[:fixed]) if fixed else ""
    found: list[str] = []
    seen: set[tuple[tuple[int, int] | str, int]] = set()
    queue = deque([(root, fixed)])
    while queue:  # breadth first: of a file's paths, the shortest is the one kept
        path, index = queue.popleft()
        key = (_identity(path or "."), index)
        if key in seen:
            continue
        seen.add(key)
        if index == len(parts):
            found += [path] if path else []
        elif os.path.isdir(path or "."):
            queue.extend(_step(path, parts[index], index, last=index + 1 == len(parts)))
    return found


def _step(directory: str, part: str, index: int, last: bool) -> Iterator[tuple[str, int]]:
    """Where one part of a pattern leads from `directory`: (path, index of the next part)."""
    if part == "**":
        yield directory, index + 1  # no directory at all
        for path in _children(directory, "*"):
            if os.path.isdir(path):
                yield path, index
            elif last:  # a final ** matches files too
                yield path, index + 1
    elif GLOB_CHARACTERS & set(part):
        yield from ((path, index + 1) for path in _children(directory, part))
    elif os.path.lexists(os.path.join(directory, part)):
        yield os.path.join(directory, part), index + 1


def _children(directory: str, part: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory or "."))
    except OSError:
        return []
    # Like glob: hidden names only for a pattern that starts with a dot.
    names = [n for n in names if part.startswith(".") or not n.startswith(".")]
    return [os.path.join(directory, name) for name in fnmatch.filter(names, part)]


def predict_files(
    model: str, sources: Sequence[str | Path], top_k: int = 3, batch_size: int = 256
) -> list[Prediction]:
    """Top-k predictions of published weights (`resnet_mnist`, `resnet_mnist.fashion_v1`) for
    image files, directories and globs, as `zoo predict` prints them."""
    predictor = Predictor.from_pretrained(model)
    files = expand_sources([str(s) for s in sources])
    return list(predictor.predict_files(files, top_k=top_k, batch_size=batch_size))
