"""Model cards, the README's table of published weights, training curves, reliability diagrams.

Everything here is generated from the table (`published.json`): cards are never edited by hand,
and a test checks that the cards on disk are what `render_card` makes of the table.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from zoo.models import BinaryClassifier, ImageClassifier, model_info
from zoo.weights.table import Weight, WeightError, WeightTable, default_table

if TYPE_CHECKING:
    from zoo.weights.calibration import Reliability

# Test accuracy the course reports for its MNIST models, for comparison in the README.
COURSE_ACCURACY = {
    "resnet_mnist": 0.9896,
    "inception_mnist": 0.9881,
    "cnn_mnist": 0.9871,
    "softmax_mnist": 0.9753,
}
DATASET_TITLES = {
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "cifar10": "CIFAR-10",
    "breast_cancer": "breast cancer",
    "course_toy_linear": "the course's 3 points",
    "course_toy_logistic": "the course's 3 points",
}
# How the README's table links the cards: to the repository's copy of the bundled files.
README_CARDS_PREFIX = "zoo/weights/published/"
GENERATED = (
    "<!-- Generated from zoo/weights/published.json by zoo.weights.write_cards(); "
    "do not edit by hand. -->"
)


def format_metric(name: str, value: float) -> str:
    """How a test metric is shown everywhere (cards, README, `zoo eval`): 98.96 %, MSE 1.2e-05."""
    if name == "acc":
        return f"{100 * value:.2f} %"
    return f"MSE {value:.4g}"


def format_duration(seconds: float) -> str:
    """Seconds as `42.0 s`, `3 min 20 s` or `2 h 05 min`."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = math.floor(seconds / 60)
    if minutes < 60:
        return f"{minutes} min {round(seconds - 60 * minutes):02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _title(weight: Weight) -> str:
    return DATASET_TITLES.get(weight.dataset.name, weight.dataset.name)


def _epochs(count: int) -> str:
    return f"{count} epoch" if count == 1 else f"{count} epochs"


def _usage(weight: Weight, default: bool) -> str:
    cls = model_info(weight.model).cls.__name__
    tag = "" if default else f'"{weight.tag}"'
    pretrained = "True" if default else f'"{weight.tag}"'
    return "\n".join(
        [
            "```python",
            f"from zoo import {cls}",
            f"model = {cls}.from_pretrained({tag})  # verified, eval mode, offline",
            "",
            "import zoo",
            f'model = zoo.create_model("{weight.model}", pretrained={pretrained})',
            "```",
        ]
    )


def _summary(weight: Weight, default: bool) -> list[str]:
    metrics, dataset = weight.metrics, weight.dataset
    accuracy = metrics.name == "acc"
    shown = format_metric("acc", metrics.value) if accuracy else f"{metrics.value:.4g}"
    label = "test accuracy" if accuracy else "test MSE"
    if metrics.correct is not None:
        shown += f" ({metrics.correct:,} / {dataset.samples:,})"
    rows = [
        ("model", f"`{model_info(weight.model).cls.__name__}` (`{weight.model}`)"),
        ("lecture", model_info(weight.model).lecture),
        ("dataset", f"{_title(weight)}, test split ({dataset.samples:,} samples)"),
        (label, f"**{shown}**"),
        ("test loss", f"{metrics.loss:.6g}"),
    ]
    course = course_accuracy(weight)
    if course is not None:
        rows.append(("the course's accuracy", format_metric("acc", course)))
    cal = weight.calibration
    if cal is not None:
        rows.append(
            (
                "calibration",
                f"temperature {cal.temperature:.6g}: test ECE {_percent(cal.ece_before)} → "
                f"**{_percent(cal.ece_after)}**",
            )
        )
    elif weight.categories is not None:
        rows.append(("calibration", "none (T = 1), see below"))
    rows += [
        ("parameters", f"{weight.num_params:,}"),
        ("file", f"`{weight.file}` ({weight.size:,} bytes, safetensors)"),
        ("SHA-256", f"`{weight.sha256}`"),
        ("default for the model", "yes" if default else "no"),
        ("license", f"{weight.license} (weights); data: {dataset.license}"),
        ("published", weight.date),
    ]
    return ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]


def _training(weight: Weight) -> list[str]:
    t = weight.training
    lines = [
        f"- recipe: `{t.recipe}`" if t.recipe else "- recipe: not recorded",
        f"- seed {t.seed}, {_epochs(t.epochs)}, {t.steps:,} optimizer steps",
        f"- wall time {format_duration(t.wall_time_s)} on {t.hardware}"
        + (f", precision {t.precision}" if t.precision else ""),
        f"- Lightning {t.lightning}",
    ]
    if t.notes:
        lines.append(f"- notes: {t.notes}")
    return lines


def _evaluation(weight: Weight) -> list[str]:
    ev, dataset = weight.evaluation, weight.dataset
    lines = [
        f"`zoo eval {weight.key}` re-measures it: `{dataset.datamodule}"
        f"({_args(dataset.init_args)})`, test split, batch size {ev.batch_size}, "
        f"{ev.dtype} on {ev.device}, eval mode.",
        "",
        f"- measured with torch {ev.torch}, Lightning {ev.lightning} on {ev.hardware}",
        f"- test split SHA-256 (tensors): `{dataset.test_sha256}`",
    ]
    if dataset.files_md5:
        lines += [f"- `{name}` MD5 `{md5}`" for name, md5 in sorted(dataset.files_md5.items())]
    return lines


def _args(args: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(args.items()))


def _inputs(weight: Weight) -> list[str]:
    pre, categories = weight.preprocessing, weight.categories
    lines = [f"- input shape {tuple(pre.input_shape)} per sample, {pre.dtype}"]
    lines.append(f"- preprocessing: {pre.formula}")
    for stat, values in (("mean", pre.mean), ("std", pre.std)):
        if values is not None:
            lines.append(f"- {stat}: {json.dumps(list(values))}")
    if categories:
        lines.append(f"- categories (output index order): {', '.join(categories)}")
    else:
        lines.append("- output: one real value (regression)")
    return lines


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.2f} %"


def _calibration(weight: Weight, table: WeightTable) -> list[str]:
    from zoo.weights.calibration import uncalibrated_reason

    binary = issubclass(model_info(weight.model).cls, BinaryClassifier)
    output = "sigmoid(logit / T)" if binary else "softmax(logits / T)"
    cal = weight.calibration
    if cal is None:
        if weight.categories is None:
            return [f"None: {uncalibrated_reason(weight)}."]
        plain = "sigmoid of the logit" if binary else "softmax of the logits"
        return [
            f"Not temperature-scaled: its probabilities are the plain {plain} (T = 1), because "
            f"{uncalibrated_reason(weight)}."
        ]
    accuracy = format_metric("acc", weight.metrics.value)
    t = f"{cal.temperature:.6g}"
    paths = "Models from `from_pretrained()` apply it in `probabilities` and `predict_step`"
    if issubclass(model_info(weight.model).cls, ImageClassifier):
        paths += ", and so do `zoo predict`, `zoo serve` and `zoo export` (inside the graph)"
    logits = "logit" if binary else "logits"
    lines = [
        f"Probabilities are temperature-scaled (Guo et al., ICML 2017): {output} with "
        f"**T = {t}**, fitted by minimising the negative log-likelihood on the "
        f"{cal.fitted_on} split ({cal.samples:,} samples, tensors SHA-256 "
        f"`{cal.split_sha256}`), never on the test split. {paths}; `forward` returns the raw "
        f"{logits}, so the predicted classes and the accuracy are those of T = 1.",
        "",
        f"| test split ({weight.dataset.samples:,} samples) | before (T = 1) | after (T = {t}) |",
        "|---|---|---|",
        f"| accuracy | {accuracy} | {accuracy} |",
        f"| negative log-likelihood | {cal.nll_before:.6g} | {cal.nll_after:.6g} |",
        f"| expected calibration error ({cal.bins} bins) | {_percent(cal.ece_before)} "
        f"| **{_percent(cal.ece_after)}** |",
    ]
    if table.reliability_path(weight).is_file():
        name = table.reliability_path(weight).name
        lines += ["", f"![reliability diagram on the test split]({name})"]
    return lines


def render_card(weight: Weight, table: WeightTable) -> str:
    """The Markdown model card of one published weight, from the table alone (plus the plot)."""
    default = table.default_tag(weight.model) == weight.tag
    lines = [GENERATED, "", f"# {weight.key}", "", *_summary(weight, default), ""]
    lines += ["## Use", "", _usage(weight, default), ""]
    lines += ["## Input and output", "", *_inputs(weight), ""]
    lines += ["## Training", "", *_training(weight), ""]
    lines += ["Hyperparameters (constructor arguments):", "", "```json"]
    lines += [json.dumps(weight.init_args, indent=2, sort_keys=True), "```", ""]
    lines += ["## Evaluation", "", *_evaluation(weight), ""]
    lines += ["## Calibration", "", *_calibration(weight, table), ""]
    if table.curve_path(weight).is_file():
        lines += ["## Training curves", "", f"![training curves]({weight.key}.png)", ""]
    return "\n".join(lines)


def write_cards(table: WeightTable | None = None) -> list[Path]:
    """(Re)generate every card of `table` (default: the source checkout's) and settle its folder
    as a publish does (`zoo.weights.transaction.settle`); the paths of the cards."""
    from zoo.weights.publish import source_table
    from zoo.weights.transaction import writing

    table = table or source_table()
    with writing(table):  # settling renders every card that differs from the table
        pass
    return [table.card_path(weight) for weight in table.weights()]


def course_accuracy(weight: Weight) -> float | None:
    """The course's MNIST accuracy for this model, when the weight is measured on MNIST too."""
    if weight.dataset.name != "mnist":
        return None
    return COURSE_ACCURACY.get(weight.model)


def render_weights_table(
    table: WeightTable | None = None, cards_prefix: str = README_CARDS_PREFIX
) -> str:
    """The README's Markdown table of every published weight, next to the course's accuracy.

    Each weight links to `{cards_prefix}{key}.md`: the README's path to the cards by default,
    `""` where the Markdown is shown next to the cards (the `zoo serve` page).
    """
    table = table or default_table()
    lines = [
        "| model | weight | test result (data) | the course | params | trained |",
        "|---|---|---|---|---|---|",
    ]
    for weight in table.weights():
        cls = model_info(weight.model).cls.__name__
        default = " (default)" if table.default_tag(weight.model) == weight.tag else ""
        course = course_accuracy(weight)
        t = weight.training
        lines.append(
            f"| `{cls}` | [`{weight.key}`]({cards_prefix}{weight.key}.md){default} "
            f"| {format_metric(weight.metric_name, weight.metric_value)} ({_title(weight)}) "
            f"| {format_metric('acc', course) if course else '—'} | {weight.num_params:,} "
            f"| {_epochs(t.epochs)}, {format_duration(t.wall_time_s)} |"
        )
    return "\n".join(lines)


def render_curves(metrics_csv: str | Path, title: str) -> bytes:
    """A PNG of a Lightning `CSVLogger` run: train loss per step, validation metrics per epoch."""
    rows = check_metrics_csv(metrics_csv)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.5), dpi=100)
    left, right = figure.subplots(1, 2)
    _plot(left, rows, "step", ["train/loss"], "step")
    _plot(right, rows, "epoch", [c for c in rows[0] if c.startswith("val/")], "epoch")
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def render_reliability(
    before: Reliability, after: Reliability, temperature: float, title: str
) -> bytes:
    """A PNG reliability diagram (Guo et al. 2017, fig. 1) of the test split before and after
    temperature scaling: accuracy per confidence bin against the diagonal of perfect
    calibration, with each bin's sample count below."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 5), dpi=100)
    grid = figure.add_gridspec(2, 2, height_ratios=(3, 1))
    for column, (rel, label) in enumerate(
        ((before, "before (T = 1)"), (after, f"after (T = {temperature:.4g})"))
    ):
        top = figure.add_subplot(grid[0, column])
        bottom = figure.add_subplot(grid[1, column], sharex=top)
        width = 1 / rel.bins
        filled = [i for i in range(rel.bins) if rel.counts[i]]
        lefts = [i * width for i in filled]
        accuracy = [rel.accuracy[i] for i in filled]
        # The gap spans accuracy to mean confidence: above the bar when over-confident, inside
        # it when under-confident (as the label-smoothed weights are before scaling).
        low = [min(rel.accuracy[i], rel.confidence[i]) for i in filled]
        gap = [abs(rel.confidence[i] - rel.accuracy[i]) for i in filled]
        top.bar(lefts, accuracy, width, align="edge", color="tab:blue", edgecolor="black",
                linewidth=0.5, label="accuracy")  # fmt: skip
        top.bar(lefts, gap, width, bottom=low, align="edge", color="tab:red", alpha=0.45,
                hatch="//", edgecolor="darkred", linewidth=0.5,
                label="gap to mean confidence")  # fmt: skip
        top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        top.set_xlim(0, 1)
        top.set_ylim(0, 1)
        top.set_ylabel("accuracy")
        top.set_title(f"{label}: ECE {_percent(rel.ece)}", fontsize=10)
        top.legend(loc="upper left", fontsize=8)
        top.grid(alpha=0.3)
        bottom.bar(lefts, [rel.counts[i] for i in filled], width, align="edge", color="grey")
        bottom.set_yscale("log")
        bottom.set_ylim(bottom=0.5)  # a bin of one sample still shows
        bottom.set_ylabel("samples")
        bottom.set_xlabel("confidence (top-1 probability)")
        bottom.grid(alpha=0.3)
    figure.suptitle(
        f"{title}: reliability on the test split ({before.samples:,} samples, {before.bins} bins)"
    )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def check_metrics_csv(path: str | Path) -> list[dict[str, str]]:
    """The rows of a Lightning `CSVLogger` metrics.csv, or a `WeightError` saying what it is not."""
    path = Path(path)
    fix = "pass the metrics.csv of Lightning's CSVLogger (--metrics-csv)"
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise WeightError(f"{path} {what}", fix)
    try:
        with open(path, newline="", encoding="utf-8") as file:
            rows = list(csv.DictReader(file))
    except (UnicodeDecodeError, csv.Error):
        rows = []
    if not rows or "train/loss" not in rows[0] or "step" not in rows[0]:
        raise WeightError(f"{path} is not a Lightning CSVLogger metrics.csv with train/loss", fix)
    try:
        for row in rows:
            [float(value) for value in row.values() if value]
    except (TypeError, ValueError):
        raise WeightError(f"{path} has values that are not numbers", fix) from None
    return rows


def _plot(axes, rows: list[dict[str, str]], x_name: str, columns: list[str], label: str) -> None:
    for column in columns:
        points = [(float(r[x_name]), float(r[column])) for r in rows if r.get(column)]
        if points:
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, label=column, marker="." if len(points) < 50 else None)
    values = [float(r[c]) for c in columns for r in rows if r.get(c)]
    # Losses of the toy models fall by orders of magnitude: only a log axis shows the descent.
    if values and min(values) > 0 and max(values) / min(values) > 100:
        axes.set_yscale("log")
    axes.set_xlabel(label)
    axes.legend()
    axes.grid(alpha=0.3)
