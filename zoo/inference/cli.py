"""`zoo predict` and `zoo export`: published weights (or a checkpoint) on image files, or to a file.

* `zoo predict MODEL FILES…`: top-k classes of image files, as text or JSON.
* `zoo export MODEL[.TAG] --format F -o FILE`: which weights to export, and the summary printed.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo.errors import BadInput
from zoo.inference.export import (
    CHECK_BATCHES,
    FORMAT_NAMES,
    FORMATS,
    INPUT_NAME,
    METADATA_FILE,
    ONNX_OPSET,
    OUTPUT_NAME,
    TOLERANCE,
    ExportError,
    ExportResult,
    check_output,
    export_file,
)
from zoo.inference.predict import Prediction, Predictor, expand_sources
from zoo.weights.table import Preprocessing, WeightError


def _predict_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo predict",
        description="Classify image files (PNG, JPEG, BMP, WebP; any size and mode) with published "
        "weights, preprocessed as their training data was; probabilities are calibrated with the "
        "weight's temperature. Directories and globs are read in batches. "
        "To predict from a recipe's DataModule instead, use `zoo predict --config …`.",
    )
    parser.add_argument(
        "model", help="MODEL or MODEL.TAG, e.g. resnet_mnist, resnet_mnist.fashion_v1"
    )
    parser.add_argument("files", nargs="+", help="image files, directories or quoted globs")
    parser.add_argument(
        "-k", "--top-k", type=_positive, default=3, help="classes per file (default 3)"
    )
    parser.add_argument("--batch-size", type=_positive, default=256, help="images per forward pass")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def check_model(spec: str) -> None:
    """Refuse a MODEL[.TAG] argument whose model is not registered, naming the valid ones."""
    from zoo.models import model_names
    from zoo.weights.table import split_key

    name, _ = split_key(spec)
    if name not in model_names():
        raise BadInput(
            f"MODEL: unknown model {name!r}", f"choose one of: {', '.join(model_names())}"
        )


def _text(prediction: Prediction) -> str:
    ranked = "  ".join(f"{label} {p:6.1%}" for _, label, p in prediction.top)
    return f"{prediction.source}: {ranked}"


def predict_command(argv: list[str]) -> int:
    """Print predictions per file; exit 1 if any file could not be used, 2 on bad arguments.

    With options first (`zoo predict --config RECIPE …`) it is Lightning's predict subcommand.
    """
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        from zoo.training.cli import lightning_command

        return lightning_command("predict", argv)
    args = _predict_parser().parse_args(argv)
    check_model(args.model)
    predictor = Predictor.from_pretrained(args.model)
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
        # The temperature says the probabilities are calibrated ones (1: as the softmax gives).
        document = {"model": predictor.key, "temperature": predictor.temperature}
        print(json.dumps({**document, "results": results}, indent=2))
    return 1 if failed else 0


# The metadata a deployer needs most, named in the summary when the file carries it.
SUMMARY_KEYS = (
    "model", "weights", "dataset", "categories", "mean", "std", "input_shape", "temperature",
)  # fmt: skip


def image_models() -> list[str]:
    """The registered models `zoo export` handles: the image classifiers."""
    from zoo.models import ImageClassifier, model_info, model_names

    return [n for n in model_names() if issubclass(model_info(n).cls, ImageClassifier)]


def _data_metadata(
    dataset: str, preprocessing: Preprocessing, categories: Sequence[str] | None
) -> dict[str, Any]:
    # Plain lists: the metadata is stored as JSON in the exported file.
    return {
        "dataset": dataset,
        "categories": list(categories or ()),
        "mean": list(preprocessing.mean or ()),
        "std": list(preprocessing.std or ()),
        "preprocessing": preprocessing.formula,
    }


def _default_data_metadata(name: str, model: nn.Module) -> dict[str, Any]:
    from zoo.weights.evaluate import default_datamodule, describe_data, make_datamodule

    data = describe_data(make_datamodule(*default_datamodule(name)), model)
    return _data_metadata(data.name, data.preprocessing, data.categories)


def load_for_export(
    spec: str, *, random_init: bool = False, seed: int = 0, checkpoint: str | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """The model `MODEL[.TAG]` names, in eval mode, and the metadata describing its weights.

    Published weights by default; `random_init` builds untrained weights from `seed`;
    `checkpoint` loads a Lightning checkpoint of `zoo fit` (without unpickling code).
    """
    from zoo.models import ImageClassifier, model_info
    from zoo.weights.table import DEFAULT_TAG, split_key

    name, tag = split_key(spec)
    explicit_tag = tag != DEFAULT_TAG
    info = model_info(name)
    if not issubclass(info.cls, ImageClassifier):
        raise ExportError(
            f"MODEL {name} is not an image model ({info.dataset} data)",
            f"zoo export handles the image classifiers: {', '.join(image_models())}",
        )
    if explicit_tag and (random_init or checkpoint):
        raise ExportError(
            f"MODEL {spec} names published weights, which --random-init/--checkpoint replace",
            f"export {name} instead",
        )
    if random_init:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = info.create().eval()
        weights = f"random-init (seed {seed}, untrained)"
        return model, {"model": name, "weights": weights, **_default_data_metadata(name, model)}
    if checkpoint is not None:
        from zoo.weights.publish import model_from_checkpoint, plain_hparams

        ckpt = read_export_checkpoint(checkpoint, name)
        model, _ = model_from_checkpoint(name, ckpt, plain_hparams(ckpt, checkpoint))
        weights = f"checkpoint {Path(checkpoint).name}"
        return model, {"model": name, "weights": weights, **_default_data_metadata(name, model)}
    from zoo.hub import load_weight
    from zoo.weights.table import default_table

    table = default_table()
    try:
        weight = table.resolve(name, tag)
    except WeightError as err:
        if explicit_tag:
            raise
        raise WeightError(
            f"{err}. To export {name} anyway, pass --random-init (untrained weights) or "
            "--checkpoint RUN.ckpt (a run of zoo fit)"
        ) from None
    data = _data_metadata(weight.dataset.name, weight.preprocessing, weight.categories)
    return load_weight(weight, table), {"model": name, "weights": weight.key, **data}


def read_export_checkpoint(path: str, name: str) -> dict[str, Any]:
    """The Lightning checkpoint `--checkpoint path` of model `name`, read without running code
    from it (`weights_only=True`), or one line saying what to give instead."""
    where = f"--checkpoint {path}"
    fix = "give the .ckpt file of a zoo fit run"
    if not Path(path).exists():
        raise ExportError(f"{where}: no such file", fix)
    if not Path(path).is_file():  # a FIFO or a device would hang or fill the memory
        raise ExportError(f"{where} is not a regular file", fix)
    if Path(path).stat().st_size == 0:
        raise ExportError(f"{where} is empty: the save that wrote it did not finish", fix)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch's many kinds of "not a checkpoint", in one line
        raise ExportError(f"{where} {_unreadable(err)}", fix) from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        raise ExportError(f"{where} is not a Lightning checkpoint (no state_dict)", fix)
    saved = dict(ckpt.get("hyper_parameters", {})).get("_class_path")
    _check_checkpoint_model(where, saved, name)
    return ckpt


def _unreadable(err: Exception) -> str:
    """Why `torch.load(weights_only=True)` failed, without torch's page of advice."""
    text = str(err)
    if "Unsupported global" in text:
        found = next(line for line in text.splitlines() if "Unsupported global" in line)
        return f"holds objects that a safe load refuses ({found.strip()[:120]})"
    if isinstance(err, (pickle.UnpicklingError, EOFError)) or "zip archive" in text:
        return "is not a PyTorch checkpoint, or is truncated"
    first = text.strip().splitlines()[0][:160] if text.strip() else type(err).__name__
    return f"cannot be loaded safely (weights_only=True): {first}"


def _check_checkpoint_model(where: str, class_path: str | None, name: str) -> None:
    from zoo.models import model_info, model_names

    wanted = model_info(name).cls.__name__
    saved = str(class_path).replace(":", ".").rsplit(".", 1)[-1]
    if class_path is None or saved == wanted:
        return
    matching = [n for n in model_names() if model_info(n).cls.__name__ == saved]
    fix = f"export it as MODEL {matching[0]}" if matching else f"give a checkpoint of {name}"
    raise ExportError(f"{where} holds a {saved}, not a {wanted} ({name})", fix)


def _run_hint(result: ExportResult) -> str:
    path = str(result.path)
    shape = ", ".join(map(str, result.metadata["input_shape"]))
    if result.format == "onnx":
        return (
            f"import numpy as np, onnxruntime as ort; s = ort.InferenceSession({path!r}); "
            f"logits = s.run(None, {{{INPUT_NAME!r}: np.zeros((1, {shape}), np.float32)}})[0]"
        )
    load = "torch.jit.load" if result.format == "torchscript" else "torch.export.load"
    module = "" if result.format == "torchscript" else ".module()"
    return f"import torch; m = {load}({path!r}){module}; logits = m(torch.zeros(1, {shape}))"


def summary(result: ExportResult) -> str:
    """What `zoo export` prints: the file, its input and output, the check, how to run it."""
    meta = result.metadata
    shape = ", ".join(map(str, meta["input_shape"]))
    categories = meta.get("categories") or []
    shown = ", ".join(
        categories if len(categories) <= 6 else [*categories[:3], "…", categories[-1]]
    )
    kind = FORMAT_NAMES[result.format] + (f" opset {ONNX_OPSET}" if result.format == "onnx" else "")
    where = "metadata_props" if result.format == "onnx" else f"extra file {METADATA_FILE}"
    what = meta.get("model", meta["model_class"])
    if "weights" in meta:
        what += f" with weights {meta['weights']}"
    temperature = meta.get("temperature", 1.0)
    if temperature == 1.0:
        output = f"{OUTPUT_NAME}: (N, {len(categories)}) for {shown}; softmax for probabilities"
    else:
        output = (
            f"{OUTPUT_NAME}: (N, {len(categories)}) for {shown}, divided by the temperature "
            f"{temperature:g} inside the graph; softmax for calibrated probabilities"
        )
    lines = [
        f"wrote {result.path} ({result.size / 1024:.1f} KiB, {kind}): {what}",
        f"  input    {INPUT_NAME}: float32 (N, {shape}), any batch size N",
        f"  output   {output if categories else meta['output']}",
    ]
    if "mean" in meta:
        lines.append(f"  prepare  {meta['preprocessing']}; mean {meta['mean']}, std {meta['std']}")
    lines += [
        f"  checked  max |export - eager| = {result.max_abs_diff:.2g} on random batches of "
        f"{' and '.join(map(str, CHECK_BATCHES))} (limit {TOLERANCE:g})",
        f"  metadata {', '.join(k for k in SUMMARY_KEYS if k in meta)} in its {where}",
        f'  run      python -c "{_run_hint(result)}"',
    ]
    return "\n".join(lines)


def _export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo export",
        description="Export an image model with a dynamic batch size, checked against eager "
        "PyTorch (max abs diff ≤ 1e-5) before the file is written.",
        epilog="examples: zoo export resnet_mnist --format onnx -o resnet_mnist.onnx; "
        "zoo export cnn_cifar10 --random-init --format exported-program -o cnn.pt2",
    )
    add = parser.add_argument
    add("model", metavar="MODEL[.TAG]", help="e.g. resnet_mnist or resnet_mnist.fashion_v1")
    add("--format", required=True, choices=list(FORMATS), help="onnx, torchscript or "
        "exported-program (files .onnx, .pt, .pt2)")  # fmt: skip
    add("-o", "--output", required=True, metavar="FILE", help="the file to write")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--random-init", action="store_true", help="untrained weights (shape/deploy testing)"
    )
    source.add_argument(
        "--checkpoint", metavar="RUN.ckpt", help="weights of a zoo fit run; the metadata "
        "assumes the model's usual dataset (MNIST, CIFAR-10)"
    )  # fmt: skip
    add("--seed", type=int, default=None, help="seed of --random-init (default 0)")
    add("--force", action="store_true", help="replace FILE if it exists")
    return parser


def export_command(argv: list[str]) -> int:
    """`zoo export MODEL[.TAG] --format F -o FILE`: export, check, print a summary."""
    parser = _export_parser()
    args = parser.parse_args(argv)
    if args.seed is not None and not args.random_init:
        parser.error("--seed applies only to --random-init")
    check_model(args.model)
    check_output(args.output, args.format, args.force)
    model, metadata = load_for_export(
        args.model, random_init=args.random_init, seed=args.seed or 0, checkpoint=args.checkpoint
    )
    result = export_file(model, args.format, args.output, metadata=metadata, force=args.force)
    print(summary(result))
    return 0
