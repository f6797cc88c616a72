"""Fit the temperatures of published weights without retraining them.

    python -m zoo.weights.calibrate [KEY ...] [--data-dir DIR] [--dry-run]

For each weight (default: every one in the table) it loads the bundled safetensors file, builds
the DataModule its entry records (`datamodule_for`), fits the temperature on the validation
split, measures NLL and ECE on the test split before and after, and checks that the test split
and the accuracy are the recorded ones. Only when every weight has passed does it commit the new
entries with their reliability diagrams, all or nothing (`zoo.weights.transaction`), and
regenerate the cards. The safetensors files are not touched: the temperature lives in the table.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zoo.errors import fault_line
from zoo.models import ZooModule, model_info
from zoo.weights.calibration import CalibrationError, CalibrationRun, calibrate_model
from zoo.weights.cards import format_metric
from zoo.weights.evaluate import datamodule_for
from zoo.weights.publish import reliability_png, source_table
from zoo.weights.store import read_state_dict, weight_file
from zoo.weights.table import Weight, WeightError, WeightTable, resolve_key
from zoo.weights.transaction import commit, stage_plot, writing

PROG = "python -m zoo.weights.calibrate"


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

    Everything is measured before anything is written; then (unless `write` is False) the new
    entries and diagrams are committed all or nothing, and the cards regenerated.
    """
    table = table or source_table()
    weights = [resolve_key(table, key) for key in (keys or table.keys())]
    outcomes = [calibrate_weight(weight, table, data_dir) for weight in weights]
    if write:
        _write(table, outcomes)
    return outcomes


def _write(table: WeightTable, outcomes: list[Outcome]) -> None:
    """Commit the new entries and their diagrams all or nothing (`zoo.weights.transaction`)."""
    with writing(table):
        staged = table
        for outcome in outcomes:
            _check_unchanged(table, outcome.weight)
            staged = staged.with_weight(outcome.weight)

        def stage() -> None:
            for outcome in outcomes:
                plot = table.reliability_path(outcome.weight)
                stage_plot(plot, outcome.diagram, outcome.weight)

        commit(table, staged, stage)


def _check_unchanged(table: WeightTable, weight: Weight) -> None:
    # The table is re-read under the lock: a publish may have replaced the weight meanwhile.
    if weight.key not in table or table.get(weight.key).sha256 != weight.sha256:
        raise WeightError(
            f"{weight.key} was published again while it was being calibrated; nothing was written",
            f"calibrate it again: python -m zoo.weights.calibrate {weight.key}",
        )


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: calibrate, print one line per weight, write (unless --dry-run).

    Like a `zoo` command, a fault prints one line `what is wrong — how to fix it` and exits
    non-zero; a bug keeps its traceback.
    """
    try:
        return _run(argv)
    except Exception as error:
        fault = fault_line(error)
        if fault is None:
            raise
        print(f"{PROG}: {fault[0]}", file=sys.stderr)
        return fault[1]


def _run(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fit each published weight's temperature on its validation split and record "
        "it, with test NLL and ECE before and after, in the table and the model cards.",
    )
    parser.add_argument("keys", nargs="*", metavar="KEY", help="MODEL.TAG (default: all)")
    parser.add_argument("--data-dir", default=None, help="dataset directory (default: cache)")
    parser.add_argument("--dry-run", action="store_true", help="measure and print only")
    args = parser.parse_args(argv)
    table = source_table()
    outcomes = recalibrate(args.keys, data_dir=args.data_dir, table=table, write=not args.dry_run)
    for outcome in outcomes:
        print(outcome.describe())
    if not args.dry_run:
        print(f"wrote {table.table_path}, the cards and the reliability diagrams")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
