"""Fit the temperatures of published weights without retraining them.

    python -m zoo.weights.calibrate [KEY ...] [--data-dir DIR] [--dry-run]

For each weight (default: every one in the table) it loads the bundled safetensors file, builds
the DataModule its entry records (`datamodule_for`), fits the temperature on the validation
split, measures NLL and ECE on the test split before and after, and checks that the test split
and the accuracy are the recorded ones. Only when every weight has passed does it write the
reliability diagrams, then the model cards, then the table, each atomically. The safetensors
files are not touched: the temperature lives in the table.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zoo.models import ZooModule, model_info
from zoo.weights.calibration import CalibrationError, CalibrationRun, calibrate_model
from zoo.weights.cards import format_metric
from zoo.weights.evaluate import datamodule_for
from zoo.weights.publish import reliability_png, source_table, write_model_cards, write_or_remove
from zoo.weights.store import read_state_dict, weight_file
from zoo.weights.table import Weight, WeightError, WeightTable, split_key, write_table


@dataclass(frozen=True)
class Outcome:
    """One weight's new entry, its reliability diagram, and why it has none (if so)."""

    weight: Weight
    diagram: bytes | None
    reason: str | None

    def describe(self) -> str:
        """One line: the fitted temperature and the test figures, or why there is none."""
        cal = self.weight.calibration
        if cal is None:
            return f"{self.weight.key}: no temperature: {self.reason}"
        accuracy = format_metric(self.weight.metric_name, self.weight.metric_value)
        return (
            f"{self.weight.key}: T = {cal.temperature:.6g} fitted on {cal.samples:,} validation "
            f"samples; test accuracy {accuracy} (unchanged), NLL {cal.nll_before:.4g} → "
            f"{cal.nll_after:.4g}, ECE {100 * cal.ece_before:.2f} % → {100 * cal.ece_after:.2f} %"
        )


def trained_model(weight: Weight, table: WeightTable) -> ZooModule:
    """The model of `weight`'s verified file, loaded strictly, in eval mode, at T = 1."""
    # zoo.hub.load_weight does the same (and sets the recorded T), but zoo.hub sits above
    # zoo.weights; the fit needs only the raw logits of the trained weights.
    model = model_info(weight.model).create(**weight.init_args)
    try:
        model.load_state_dict(read_state_dict(weight_file(weight, table), weight), strict=True)
    except RuntimeError as err:
        raise WeightError(f"{weight.key} does not fit {type(model).__name__}: {err}") from None
    return model.eval()


def calibrate_weight(
    weight: Weight, table: WeightTable, data_dir: str | Path | None = None
) -> Outcome:
    """`weight` with the calibration its bundled file and recorded data give, measured now."""
    model = trained_model(weight, table)
    datamodule = datamodule_for(weight, data_dir)
    try:
        run = calibrate_model(model, datamodule)
    except CalibrationError as err:
        return Outcome(dataclasses.replace(weight, calibration=None), None, str(err))
    _check_reproduces(weight, run)
    updated = dataclasses.replace(weight, calibration=run.calibration)
    return Outcome(updated, reliability_png(run, weight.key), None)


def _check_reproduces(weight: Weight, run: CalibrationRun) -> None:
    # The temperature is fitted for the weight the table describes: on other data, or with a
    # file that no longer gives the recorded accuracy, its figures would describe something else.
    if run.test_sha256 != weight.dataset.test_sha256:
        raise WeightError(
            f"{weight.key}: the test split differs from the one the weight was measured on "
            "(another copy of the dataset?); nothing was written"
        )
    correct = round(run.before.overall_accuracy * run.before.samples)
    if weight.metrics.correct is not None and correct != weight.metrics.correct:
        raise WeightError(
            f"{weight.key}: {correct} test samples correct, the table records "
            f"{weight.metrics.correct}; run `zoo eval {weight.key}`; nothing was written"
        )


def recalibrate(
    keys: Sequence[str] | None = None,
    *,
    data_dir: str | Path | None = None,
    table: WeightTable | None = None,
    write: bool = True,
) -> list[Outcome]:
    """Fit and record the temperature of the weights `keys` (default: all) of `table`.

    Everything is measured before anything is written; then the diagrams, the cards of the
    models concerned and, last, the table are written atomically (unless `write` is False).
    """
    table = table or source_table()
    weights = [_resolve(table, key) for key in (keys or table.keys())]
    outcomes = [calibrate_weight(weight, table, data_dir) for weight in weights]
    if not write:
        return outcomes
    staged = table
    for outcome in outcomes:
        staged = staged.with_weight(outcome.weight)
    for outcome in outcomes:
        write_or_remove(table.reliability_path(outcome.weight), outcome.diagram)
    write_model_cards(table, staged, {outcome.weight.model for outcome in outcomes})
    write_table(table.table_path, staged.to_dict())  # last: the table only names files that exist
    table.reload()
    return outcomes


def _resolve(table: WeightTable, key: str) -> Weight:
    name, tag = split_key(key)
    return table.resolve(name, tag)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: calibrate, print one line per weight, write (unless --dry-run)."""
    parser = argparse.ArgumentParser(
        prog="python -m zoo.weights.calibrate",
        description="Fit each published weight's temperature on its validation split and record "
        "it, with test NLL and ECE before and after, in the table and the model cards.",
    )
    parser.add_argument("keys", nargs="*", metavar="KEY", help="MODEL.TAG (default: all)")
    parser.add_argument("--data-dir", default=None, help="dataset directory (default: cache)")
    parser.add_argument("--dry-run", action="store_true", help="measure and print only")
    args = parser.parse_args(argv)
    try:
        table = source_table()
        outcomes = recalibrate(
            args.keys, data_dir=args.data_dir, table=table, write=not args.dry_run
        )
    except (WeightError, KeyError, FileNotFoundError) as err:
        message = err.args[0] if isinstance(err, KeyError) else err
        print(f"zoo.weights.calibrate: {message}", file=sys.stderr)
        return 2
    for outcome in outcomes:
        print(outcome.describe())
    if not args.dry_run:
        print(f"wrote {table.table_path}, the cards and the reliability diagrams")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
