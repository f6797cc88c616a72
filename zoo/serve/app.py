"""What `zoo serve` shows: the published MNIST models, their predictions, and the weights' cards.

`DigitApp` knows nothing of HTTP: it turns image bytes into the 28×28 input the models see and
runs every model on a batch of such inputs, and gathers the weights table and model cards (as
Markdown, and as the HTML the page shows) for the page.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from zoo.inference.imaging import read_image
from zoo.inference.predict import Predictor
from zoo.models import model_info
from zoo.serve.markdown import render_markdown
from zoo.weights.cards import render_weights_table
from zoo.weights.table import Weight, WeightTable, default_table

SHOWN_DATASET = "mnist"
# A drawing is a few hundred pixels a side; this leaves room for photos while keeping one
# request's decode and preprocessing to tens of megabytes however many arrive at once.
MAX_PIXELS = 4_000_000
CURVES_URL = "/curves/"
IMAGE_KIND = re.compile(r"[a-z]+")
CARD_HEADING_OFFSET = 2  # a card's "#" sits under the page's h2 "Model cards"


def shown_weights(table: WeightTable) -> list[Weight]:
    """The default weight of every model published for MNIST, most accurate first."""
    weights = [
        w
        for w in table.weights()
        if w.dataset.name == SHOWN_DATASET and table.default_tag(w.model) == w.tag
    ]
    return sorted(weights, key=lambda w: (-w.metric_value, w.key))


class DigitApp:
    """The models behind the page, loaded once.

    Args:
        predictors: the models to run on every image; all must use the same preprocessing.
        table: the published-weights table their weights come from.
    """

    def __init__(self, predictors: list[Predictor], table: WeightTable) -> None:
        if not predictors:
            raise ValueError("DigitApp needs at least one predictor")
        datasets = {p.weight.dataset.name for p in predictors}
        if len(datasets) != 1:
            raise ValueError(f"predictors must share one dataset's preprocessing, got {datasets}")
        self.predictors = predictors
        self.table = table
        # One forward at a time (the server's batcher already runs them on one thread): each
        # would start torch's full intra-op thread pool and fight the others over the cores.
        self._lock = threading.Lock()

    @classmethod
    def load(cls, table: WeightTable | None = None) -> DigitApp:
        """The default weights of the published MNIST models, loaded offline."""
        table = table or default_table()
        predictors = [Predictor.from_pretrained(w.key, table) for w in shown_weights(table)]
        return cls(predictors, table)

    def models(self) -> list[dict[str, Any]]:
        """The models on the page: key, class name, test accuracy and categories."""
        return [
            {
                "key": p.key,
                "model": p.weight.model,
                "class": model_info(p.weight.model).cls.__name__,
                "accuracy": p.weight.metric_value,
                "params": p.weight.num_params,
                "categories": p.categories,
            }
            for p in self.predictors
        ]

    def prepare(self, data: bytes) -> np.ndarray:
        """The uint8 (28, 28) image every model sees, from PNG/JPEG/BMP/WebP bytes.

        Raises `ImageError` for data that is not a usable image, or that shows no digit.
        """
        return self.predictors[0].prepare(read_image(data, max_pixels=MAX_PIXELS))

    def predict(self, data: bytes) -> dict[str, Any]:
        """The input the models saw and each model's probabilities and top label."""
        return self.predict_batch([self.prepare(data)])[0]

    def predict_batch(self, images: Sequence[np.ndarray]) -> list[dict[str, Any]]:
        """`predict`'s answer for each of many prepared images, with one forward per model."""
        return self.answers(images, self.probabilities(np.stack(images)))

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Every model's class probabilities, float32 (models, N, classes), for uint8 images
        (N, 28, 28) from `prepare`."""
        with self._lock:
            outputs = [p.probabilities(batch).numpy() for p in self.predictors]
        return np.stack(outputs).astype(np.float32, copy=False)

    def answers(
        self, images: Sequence[np.ndarray], probabilities: np.ndarray
    ) -> list[dict[str, Any]]:
        """The API's answer for each image: the input the models saw, and each model's
        probabilities (rounded to 6 places) and top label, from `probabilities`' output."""
        tops = probabilities.argmax(axis=-1).tolist()
        rows = probabilities.tolist()
        return [
            {
                "input": image.tolist(),
                "predictions": [
                    {
                        "model": p.key,
                        "probabilities": [round(v, 6) for v in rows[m][i]],
                        "top": p.categories[tops[m][i]],
                    }
                    for m, p in enumerate(self.predictors)
                ],
            }
            for i, image in enumerate(images)
        ]

    def weights(self) -> dict[str, Any]:
        """The published weights: the README's Markdown table and every weight's card, each
        also as the sanitised HTML the page shows (see `zoo.serve.markdown`)."""
        return self._weights

    @cached_property
    def _weights(self) -> dict[str, Any]:
        # The cards do not change while the server runs: render them once.
        # The page shows every card itself, so the table links them by bare file name.
        table = render_weights_table(self.table, cards_prefix="")
        return {
            "table": table,
            "table_html": render_markdown(table),
            "shown": [p.key for p in self.predictors],
            "weights": [self._weight(w) for w in self.table.weights()],
        }

    def _weight(self, weight: Weight) -> dict[str, Any]:
        path = self.table.card_path(weight)
        card = path.read_text(encoding="utf-8") if path.is_file() else None
        return {
            "key": weight.key,
            "model": weight.model,
            "class": model_info(weight.model).cls.__name__,
            "dataset": weight.dataset.name,
            "default": self.table.default_tag(weight.model) == weight.tag,
            "metric": {"name": weight.metric_name, "value": weight.metric_value},
            "card": card,
            "card_html": render_markdown(card, CARD_HEADING_OFFSET, CURVES_URL) if card else None,
            "curve": f"{CURVES_URL}{weight.key}.png" if self.curve(weight.key) else None,
        }

    def card_image(self, name: str) -> Path | None:
        """A PNG that a card shows, by file name without `.png`: the training curves `<key>`,
        or another plot of the weight, `<key>.<kind>` (the reliability diagram of a calibrated
        weight); None unless `key` is published and the file is there."""
        published = set(self.table.keys())
        key, dot, kind = name.rpartition(".")
        if name in published:
            return self.curve(name)
        if not dot or not IMAGE_KIND.fullmatch(kind) or key not in published:
            return None
        path = self.table.files_dir / f"{key}.{kind}.png"
        return path if path.is_file() else None

    def curve(self, key: str) -> Path | None:
        """The training-curve PNG of the published weight `key`, if there is one."""
        published = self.table.keys()
        if key not in published:
            return None
        path = self.table.curve_path(self.table.get(key))
        return path if path.is_file() else None
