"""What `zoo serve` shows: the published MNIST models, their predictions, and the weights' cards.

`DigitApp` knows nothing of HTTP: it turns image bytes into the 28×28 input the models see and
each model's class probabilities, and gathers the weights table and model cards for the page.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from zoo.inference.imaging import read_image
from zoo.inference.predict import Predictor
from zoo.models import model_info
from zoo.weights.cards import render_weights_table
from zoo.weights.table import Weight, WeightTable, default_table

SHOWN_DATASET = "mnist"
# A drawing is a few hundred pixels a side; this leaves room for photos while keeping one
# request's decode and preprocessing to tens of megabytes however many arrive at once.
MAX_PIXELS = 4_000_000
CURVES_URL = "/curves/"


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
        # One forward at a time: each is a few milliseconds, and concurrent forwards would each
        # start torch's full intra-op thread pool and fight over the same cores.
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
        image = self.prepare(data)
        batch = image[np.newaxis]
        with self._lock:
            rows = [p.probabilities(batch)[0] for p in self.predictors]
        predictions = [
            {
                "model": p.key,
                "probabilities": [round(float(v), 6) for v in row],
                "top": p.categories[int(row.argmax())],
            }
            for p, row in zip(self.predictors, rows, strict=True)
        ]
        return {"input": image.tolist(), "predictions": predictions}

    def weights(self) -> dict[str, Any]:
        """The published weights: the README's Markdown table, and every weight's card."""
        return {
            # The page shows every card itself, so the table links them by bare file name.
            "table": render_weights_table(self.table, cards_prefix=""),
            "shown": [p.key for p in self.predictors],
            "weights": [self._weight(w) for w in self.table.weights()],
        }

    def _weight(self, weight: Weight) -> dict[str, Any]:
        card = self.table.card_path(weight)
        return {
            "key": weight.key,
            "model": weight.model,
            "class": model_info(weight.model).cls.__name__,
            "dataset": weight.dataset.name,
            "default": self.table.default_tag(weight.model) == weight.tag,
            "metric": {"name": weight.metric_name, "value": weight.metric_value},
            "card": card.read_text(encoding="utf-8") if card.is_file() else None,
            "curve": f"{CURVES_URL}{weight.key}.png" if self.curve(weight.key) else None,
        }

    def curve(self, key: str) -> Path | None:
        """The training-curve PNG of the published weight `key`, if there is one."""
        published = self.table.keys()
        if key not in published:
            return None
        path = self.table.curve_path(self.table.get(key))
        return path if path.is_file() else None
