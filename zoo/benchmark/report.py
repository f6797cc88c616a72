"""Writing a benchmark run: `results.json`, `results.md` (tables) and `results.png` (bars)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

PATH_LABELS = {
    "course": "course loop",
    "vanilla": "vanilla loop (zoo data)",
    "lightning": "zoo Trainer",
}


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    """The run as Markdown tables: training, targets, time to accuracy, inference, machine."""
    env = results["environment"]
    peak = env["matmul_peak_gflops"]
    lines = [
        "# zoo bench",
        "",
        f"{env['device']}, {env['threads']} thread(s), torch {env['torch']}, "
        f"lightning {env['lightning']}; fp32 matmul peak {peak['before']:.1f} GFLOP/s before, "
        f"{peak['after']:.1f} after (the % below uses the higher); "
        f"load average {env['load_before']} before, "
        f"{env['load_after']} after; {'quick' if env['quick'] else 'full'} mode, "
        f"{env['repeats']} repeat(s) of {env['fraction_of_epoch']:g} epoch, medians; "
        f"freed memory {'kept' if env.get('freed_memory_kept') else 'returned'} (all paths).",
        "",
        "## Training, per epoch of 60,000 images",
        "",
        "| model | path | batch | epoch s | images/s | GFLOP/s | % of matmul peak | peak RSS MiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for model in results["models"]:
        for path, label in PATH_LABELS.items():
            row = model[path]
            batch = model["batch_size"]["course" if path == "course" else "zoo"]
            lines.append(
                f"| {model['model']} | {label} | {batch} | {_fmt(row['epoch_s'])} | "
                f"{_fmt(row['images_per_s'], 0)} | {_fmt(row['gflops'], 1)} | "
                f"{_fmt(100 * row['peak_fraction'], 1)} | {_fmt(row['peak_rss_mib'], 0)} |"
            )
    lines += ["", "## Targets", "", "| target | goal | measured | met | note |",
              "|---|---|---:|:-:|---|"]  # fmt: skip
    for row in results["targets"]:
        mark = "yes" if row["met"] else "**no**"
        note = row.get("note", "")
        lines.append(f"| {row['target']} | {row['goal']} | {row['value']} | {mark} | {note} |")
    tta = results.get("time_to_accuracy")
    if tta:
        lines += ["", f"## Time to {tta['target_accuracy']:.0%} test accuracy ({tta['model']})", ""]
        lines += ["| path | training s | test accuracy after each epoch (cumulative s) |",
                  "|---|---:|---|"]  # fmt: skip
        for path in ("course", "zoo"):
            history = ", ".join(f"{acc:.2%} ({s:.0f} s)" for s, acc in tta[path]["history"])
            lines.append(f"| {path} | {_fmt(tta[path]['seconds'], 1)} | {history} |")
    inference = results.get("inference")
    if inference:
        lines += ["", f"## Inference ({inference[0]['model']})", ""]
        lines += ["| path | images/s at batch 1024 | ms at batch 1 | max abs diff vs eager | "
                  "setup s | note |", "|---|---:|---:|---:|---:|---|"]  # fmt: skip
        for row in inference:
            lines.append(
                f"| {row['path']} | {_fmt(row['throughput'], 0)} | {_fmt(row['latency_ms'], 3)} "
                f"| {row['max_abs_diff']:.1e} | {_fmt(row['setup_s'], 1)} | {row['error']} |"
            )
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    """Grouped bars of epoch seconds per model and path (and inference throughput) as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    inference = [r for r in results.get("inference") or [] if not r["error"]]
    figure = Figure(figsize=(11 if inference else 7, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2 if inference else 1, squeeze=False)[0]
    models = [m["model"] for m in results["models"]]
    width = 0.8 / len(PATH_LABELS)
    for i, (key, label) in enumerate(PATH_LABELS.items()):
        xs = [j + (i - 1) * width for j in range(len(models))]
        axes[0].bar(xs, [m[key]["epoch_s"] for m in results["models"]], width, label=label)
    axes[0].set_xticks(range(len(models)), models, rotation=15)
    axes[0].set_ylabel("seconds per epoch (lower is better)")
    axes[0].set_title("Training an epoch of MNIST")
    axes[0].legend()
    if inference:
        axes[1].bar([r["path"] for r in inference], [r["throughput"] for r in inference])
        axes[1].set_ylabel("images/s at batch 1024 (higher is better)")
        axes[1].set_title(f"Inference, {results['inference'][0]['model']}")
    figure.savefig(path, dpi=100)


def write_report(results: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write the JSON, Markdown and PNG files into `out_dir`; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "results.json", "markdown": out_dir / "results.md",
             "plot": out_dir / "results.png"}  # fmt: skip
    paths["json"].write_text(json.dumps(results, indent=2, default=str) + "\n")
    paths["markdown"].write_text(markdown(results))
    plot(results, paths["plot"])
    return paths
