"""Writing a benchmark run: `results.json`, `results.md` (tables) and `results.png` (bars)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from zoo.files import atomic_write, save_figure

PATH_LABELS = {
    "course": "course loop",
    "vanilla": "vanilla loop (zoo data)",
    "lightning": "zoo Trainer",
}
SHIPPED_LABEL = "zoo fit as shipped"


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def machine_line(env: dict[str, Any]) -> str:
    """The CPU model and ISA (and GPU) the run measured on, and whether bf16 is native there."""
    cpu = env.get("cpu_name") or env.get("cpu", "unknown CPU")
    line = f"**Machine**: {cpu}, ISA {env.get('isa', 'unknown')}"
    unit = env.get("cpu_bf16_unit")
    line += f", native bf16 ({unit})" if unit else ", no native bf16 unit"
    if env.get("gpu"):
        line += f"; GPU {env['gpu']} ({'native' if env['native_bf16'] else 'no native'} bf16)"
    return line + "."


def _precision_line(env: dict[str, Any]) -> str:
    precisions = env.get("precisions", ["fp32"])
    column = "with" if env.get("native_bf16") else "without"
    line = (
        f"**Precisions**: zoo's paths in {', '.join(precisions)}; the course loop is always the "
        f"course's fp32 script. Targets are judged in {env.get('headline_precision', 'fp32')}, "
        f"against the goals for hardware {column} native bf16."
    )
    if "bf16" in precisions and not env.get("native_bf16"):
        line += " bf16 is emulated here (slower than fp32): zoo fit trains in fp32 on it."
    return line


def _peak_text(env: dict[str, Any]) -> str:
    peaks = env["matmul_peak_gflops"]
    return "; ".join(
        f"{precision} matmul peak {peak['before']:.1f} GFLOP/s before, {peak['after']:.1f} after"
        for precision, peak in peaks.items()
    )


def _training_row(model: str, precision: str, label: str, batch: int, row: dict[str, Any],
                  course_epoch_s: float) -> str:  # fmt: skip
    ratio = course_epoch_s / row["epoch_s"] if row["epoch_s"] else float("nan")
    return (
        f"| {model} | {precision} | {label} | {batch} | {_fmt(row['epoch_s'])} | "
        f"{_fmt(ratio)}x | {_fmt(row['images_per_s'], 0)} | {_fmt(row['gflops'], 1)} | "
        f"{_fmt(100 * row['peak_fraction'], 1)} | {_fmt(row['peak_rss_mib'], 0)} |"
    )


def markdown(results: dict[str, Any]) -> str:
    """The run as Markdown tables: machine, training, targets, time to accuracy, inference."""
    env = results["environment"]
    lines = [
        "# zoo bench",
        "",
        machine_line(env),
        "",
        _precision_line(env),
        "",
        f"{env['device']}, {env['threads']} thread(s), torch {env['torch']}, "
        f"lightning {env['lightning']}; {_peak_text(env)} (each row's % uses the higher reading "
        f"of its own precision); load average {env['load_before']} before, "
        f"{env['load_after']} after; {'quick' if env['quick'] else 'full'} mode, "
        f"{env['repeats']} repeat(s) of {env['fraction_of_epoch']:g} epoch, medians; "
        f"freed memory {'kept' if env.get('freed_memory_kept') else 'returned'} (all paths).",
        "",
        "## Training, per epoch of 60,000 images",
        "",
        "| model | precision | path | batch | epoch s | vs course | images/s | GFLOP/s | "
        "% of peak | peak RSS MiB |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    shipped_notes = []
    for model in results["models"]:
        name, course = model["model"], model["course"]
        batch = model["batch_size"]
        lines.append(_training_row(name, "fp32", PATH_LABELS["course"], batch["course"], course,
                                   course["epoch_s"]))  # fmt: skip
        for precision, row in model["precisions"].items():
            for path in ("vanilla", "lightning"):
                lines.append(_training_row(name, precision, PATH_LABELS[path], batch["zoo"],
                                           row[path], course["epoch_s"]))  # fmt: skip
        shipped = model.get("shipped")
        if shipped:
            label = f"{SHIPPED_LABEL} ({shipped['recipe']}.yaml)"
            lines.append(_training_row(name, shipped["precision"], label, shipped["batch_size"],
                                       shipped, course["epoch_s"]))  # fmt: skip
            shipped_notes.append(
                f"{SHIPPED_LABEL}: `zoo fit --config recipes/{shipped['recipe']}.yaml` as a user "
                f"runs it (augmentation, {shipped['precision']}), an epoch of its "
                f"{shipped['train_images']:,} training images ({shipped['train_epoch_s']:.2f} s) "
                f"plus its validation pass ({shipped['validation_s']:.2f} s); no logger, "
                "checkpoint or progress bar."
            )
    if shipped_notes:
        lines += ["", *shipped_notes]
    lines += ["", "## Targets", "", "| target | goal | measured | met | note |",
              "|---|---|---:|:-:|---|"]  # fmt: skip
    for row in results["targets"]:
        mark = "yes" if row["met"] else "**no**"
        note = row.get("note", "")
        lines.append(f"| {row['target']} | {row['goal']} | {row['value']} | {mark} | {note} |")
    tta = results.get("time_to_accuracy")
    if tta:
        zoo, course = tta["zoo"], tta["course"]
        lines += ["", f"## Time to {tta['target_accuracy']:.0%} test accuracy ({tta['model']})", ""]
        lines += [
            f"zoo: `recipes/{zoo['recipe']}.yaml` ({zoo['steps']} steps at batch "
            f"{zoo['batch_size']}) in {tta['precision']}, the worst of seeds "
            f"{', '.join(str(s) for s in tta['seeds'])}; course: its loop, seed "
            f"{tta['seeds'][0]}, at most {course['max_epochs']} epoch(s). Training seconds only, "
            "after a few untimed warm-up steps.",
            "",
            "| path | training s | test accuracy after each epoch (cumulative s) |",
            "|---|---:|---|",
        ]
        for run in zoo["runs"]:
            history = ", ".join(f"{acc:.2%} ({s:.1f} s)" for s, acc in run["history"])
            lines.append(f"| zoo, seed {run['seed']} | {_fmt(run['seconds'])} | {history} |")
        history = ", ".join(f"{acc:.2%} ({s:.0f} s)" for s, acc in course["history"])
        lines.append(f"| course | {_fmt(course['seconds'], 1)} | {history} |")
    inference = results.get("inference")
    if inference:
        lines += ["", f"## Inference ({inference[0]['model']}, fp32)", ""]
        lines += ["| path | images/s at batch 1024 | ms at batch 1 | max abs diff vs eager | "
                  "setup s | note |", "|---|---:|---:|---:|---:|---|"]  # fmt: skip
        for row in inference:
            lines.append(
                f"| {row['path']} | {_fmt(row['throughput'], 0)} | {_fmt(row['latency_ms'], 3)} "
                f"| {row['max_abs_diff']:.1e} | {_fmt(row['setup_s'], 1)} | {row['error']} |"
            )
    return "\n".join(lines) + "\n"


def _series(results: dict[str, Any]) -> list[tuple[str, list[float]]]:
    """(label, epoch seconds per model) for every bar of the training plot; NaN: not measured."""
    models = results["models"]
    series = [(PATH_LABELS["course"] + " (fp32)", [m["course"]["epoch_s"] for m in models])]
    precisions = list(dict.fromkeys(p for m in models for p in m["precisions"]))
    for precision in precisions:
        for path in ("vanilla", "lightning"):
            values = [
                m["precisions"][precision][path]["epoch_s"]
                if precision in m["precisions"] else math.nan
                for m in models
            ]  # fmt: skip
            series.append((f"{PATH_LABELS[path]} ({precision})", values))
    if any("shipped" in m for m in models):
        values = [m["shipped"]["epoch_s"] if "shipped" in m else math.nan for m in models]
        series.append((SHIPPED_LABEL, values))
    return series


def plot(results: dict[str, Any], path: Path) -> None:
    """Grouped bars of epoch seconds per model, path and precision (and inference) as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    inference = [r for r in results.get("inference") or [] if not r["error"]]
    figure = Figure(figsize=(12 if inference else 8, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2 if inference else 1, squeeze=False)[0]
    models = [m["model"] for m in results["models"]]
    series = _series(results)
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(models))]
        axes[0].bar(xs, values, width, label=label)
    axes[0].set_xticks(range(len(models)), models, rotation=15)
    axes[0].set_ylabel("seconds per epoch (lower is better)")
    env = results["environment"]
    axes[0].set_title(f"Training an epoch of MNIST on {env.get('gpu') or env.get('isa', 'CPU')}")
    axes[0].legend(fontsize="small")
    if inference:
        axes[1].bar([r["path"] for r in inference], [r["throughput"] for r in inference])
        axes[1].set_ylabel("images/s at batch 1024 (higher is better)")
        axes[1].set_title(f"Inference, {results['inference'][0]['model']}")
    save_figure(figure, path)


def write_report(results: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write the JSON, Markdown and PNG files into `out_dir`; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "results.json", "markdown": out_dir / "results.md",
             "plot": out_dir / "results.png"}  # fmt: skip
    atomic_write(paths["json"], (json.dumps(results, indent=2, default=str) + "\n").encode())
    atomic_write(paths["markdown"], markdown(results).encode())
    plot(results, paths["plot"])
    return paths
