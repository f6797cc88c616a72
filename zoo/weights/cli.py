"""`zoo eval` and `zoo publish`: re-measure a published weight; publish a Lightning checkpoint.

Faults are raised (`WeightError`, a `BadInput`): `zoo.cli.main` prints them as one line.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def eval_command(argv: list[str]) -> int:
    """eval: re-measure a published weight on its test set, as its model card states."""
    parser = argparse.ArgumentParser(
        prog="zoo eval",
        description="Evaluate a published weight on the test split its card reports "
        "(CPU, float32, the recorded batch size) and compare with the card: accuracy and loss, "
        "and for a calibrated weight NLL and ECE before and after its temperature.",
    )
    parser.add_argument("weight", help="MODEL or MODEL.TAG, e.g. resnet_mnist.mnist_v1")
    parser.add_argument("--data-dir", default=None, help="dataset directory (default: cache)")
    args = parser.parse_args(argv)
    from zoo.hub import load_weight
    from zoo.weights.calibration import calibration_problems, remeasure, uncalibrated_reason
    from zoo.weights.cards import format_metric
    from zoo.weights.evaluate import datamodule_for, evaluate, matches
    from zoo.weights.table import default_table, resolve_key

    table = default_table()
    weight = resolve_key(table, args.weight)
    model = load_weight(weight, table)
    datamodule = datamodule_for(weight, args.data_dir)
    result = evaluate(model, datamodule)
    remeasured = None
    if weight.calibration is not None:
        remeasured = remeasure(model, datamodule, weight)
    shown = format_metric(result.metric_name, result.value)
    count = f" ({result.correct:,} / {result.samples:,})" if result.correct is not None else ""
    label = "accuracy" if result.metric_name == "acc" else "result"
    print(f"{weight.key}: test {label} {shown}{count}, loss {result.loss:.6g}")
    problems = matches(result, weight)
    recorded = weight.calibration
    if recorded is not None and remeasured is not None:
        cal = remeasured.run.calibration
        print(
            f"calibration: temperature {cal.temperature:.6g}, fitted on {cal.samples:,} "
            f"validation samples (fitting again gives {remeasured.refitted:.6g})"
        )
        after = f"after (T = {cal.temperature:.4g})"
        print(f"  {'test':<10} {'before (T = 1)':>16}  {after:>20}")
        print(f"  {'accuracy':<10} {shown:>16}  {shown:>20}")
        print(f"  {'NLL':<10} {cal.nll_before:>16.6g}  {cal.nll_after:>20.6g}")
        print(
            f"  {'ECE':<10} {100 * cal.ece_before:>14.2f} %  {100 * cal.ece_after:>18.2f} %"
            f"   ({cal.bins} equal-width bins)"
        )
        problems += calibration_problems(remeasured, recorded)
    elif weight.categories is not None:
        print(f"calibration: none (T = 1): {uncalibrated_reason(weight)}")
    if problems:
        print(f"zoo eval: does NOT match the model card: {'; '.join(problems)}", file=sys.stderr)
        return 1
    card = format_metric(weight.metric_name, weight.metric_value)
    if recorded is not None:
        card += f"; ECE {100 * recorded.ece_after:.2f} % after T"
    print(f"matches the model card ({card})")
    return 0


def _data_arg(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _publish_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo publish",
        description="Publish a Lightning checkpoint as safetensors with a table entry and a "
        "model card, after measuring it on the official test split.",
    )
    add = parser.add_argument
    add("checkpoint", help="the Lightning .ckpt of the run")
    add("--name", required=True, help="registry name of the model, e.g. resnet_mnist")
    add("--tag", required=True, help="tag of the weight, e.g. mnist_v1")
    add("--seed", type=int, required=True, help="the seed the run was trained with")
    add("--recipe", default=None, help="recipe or command that trained it")
    add("--epochs", type=int, default=None, help="epochs (default: from the checkpoint)")
    add("--wall-time", type=float, default=None, help="training seconds (default: Timer state)")
    add("--hardware", default=None, help="what it was trained on (default: this machine)")
    add("--notes", default="", help="notes for the model card")
    add("--url", default=None, help="download URL, for weights not bundled with zoo")
    add("--datamodule", default=None, help="zoo DataModule to measure on (default: by dataset)")
    add("--data-arg", type=_data_arg, action="append", default=None, metavar="KEY=VALUE")
    add("--data-dir", default=None, help="dataset directory (not recorded)")
    add("--metrics-csv", default=None, help="CSVLogger metrics.csv to plot the curves from")
    add("--no-default", action="store_true", help="do not make this the model's default")
    add("--force", action="store_true", help="replace an existing MODEL.TAG")
    add("--license", default="MIT", help="licence of the weights (default MIT)")
    return parser


def publish_command(argv: list[str]) -> int:
    """publish: turn a Lightning .ckpt into a published, verified weight with its card."""
    args = _publish_parser().parse_args(argv)
    from zoo.weights.cards import format_metric
    from zoo.weights.publish import publish

    weight = publish(
        args.checkpoint,
        name=args.name,
        tag=args.tag,
        seed=args.seed,
        recipe=args.recipe,
        epochs=args.epochs,
        wall_time_s=args.wall_time,
        hardware_used=args.hardware,
        notes=args.notes,
        url=args.url,
        datamodule=args.datamodule,
        data_args=dict(args.data_arg) if args.data_arg else None,
        data_dir=args.data_dir,
        metrics_csv=args.metrics_csv,
        make_default=not args.no_default,
        force=args.force,
        license=args.license,
    )
    shown = format_metric(weight.metric_name, weight.metric_value)
    print(f"published {weight.key}: test {shown}, {weight.file} (sha256 {weight.sha256[:12]}…)")
    cal = weight.calibration
    if cal is not None:
        print(
            f"calibrated: temperature {cal.temperature:.6g} (fitted on {cal.samples:,} validation "
            f"samples), test ECE {100 * cal.ece_before:.2f} % → {100 * cal.ece_after:.2f} %"
        )
    elif weight.categories is not None:
        from zoo.weights.calibration import uncalibrated_reason

        print(f"not calibrated (T = 1): {uncalibrated_reason(weight)}")
    return 0
