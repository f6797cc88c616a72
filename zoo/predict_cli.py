"""`zoo predict MODEL FILES…`: top-k classes of image files, as text or JSON."""

from __future__ import annotations

import argparse
import json
import sys

from zoo.predict import Prediction, Predictor, expand_sources
from zoo.weights.table import WeightError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo predict",
        description="Classify image files (PNG, JPEG, BMP, WebP; any size and mode) with published "
        "weights, preprocessed as their training data was. Directories and globs are read in "
        "batches. To predict from a recipe's DataModule instead, use `zoo predict --config …`.",
    )
    parser.add_argument(
        "model", help="MODEL or MODEL.TAG, e.g. resnet_mnist, resnet_mnist.fashion_v1"
    )
    parser.add_argument("files", nargs="+", help="image files, directories or quoted globs")
    parser.add_argument("-k", "--top-k", type=int, default=3, help="classes per file (default 3)")
    parser.add_argument("--batch-size", type=int, default=256, help="images per forward pass")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _text(prediction: Prediction) -> str:
    ranked = "  ".join(f"{label} {p:6.1%}" for _, label, p in prediction.top)
    return f"{prediction.source}: {ranked}"


def predict_command(argv: list[str]) -> int:
    """Print predictions per file; exit 1 if any file could not be used, 2 on bad arguments."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.top_k < 1 or args.batch_size < 1:
        parser.error("--top-k and --batch-size must be at least 1")
    try:
        predictor = Predictor.from_pretrained(args.model)
    except (KeyError, WeightError) as error:
        parser.error(str(error.args[0] if isinstance(error, KeyError) else error))
    files = expand_sources(args.files)
    predictions = predictor.predict_files(files, top_k=args.top_k, batch_size=args.batch_size)
    failed = 0
    results = []
    for prediction in predictions:
        failed += prediction.error is not None
        if args.json:
            results.append(prediction.to_json())
        elif prediction.error:
            print(f"{prediction.source}: error: {prediction.error}", file=sys.stderr)
        else:
            print(_text(prediction), flush=True)
    if args.json:
        print(json.dumps({"model": predictor.key, "results": results}, indent=2))
    return 1 if failed else 0
