"""One benchmark run: every measurement side by side in one process, then the targets.

Per model, each repeat times the course's loop, the vanilla loop on zoo's pipeline and zoo's
Trainer one after another (interleaved, so a change in machine load hits all three alike), after
warm-up steps, over a fraction of an epoch; epoch times are extrapolated to the 60,000 training
images and reported as medians over the repeats. Lightning's overhead is the median over repeats
of the paired ratio Trainer / vanilla loop (adjacent runs, alternating which goes first). Each
repeat also times the model's convolutions inside real steps: what an epoch would take if
nothing else did, so the most any loop could gain against the course's.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch

from zoo.benchmark.course import COURSE_BATCH_SIZE
from zoo.benchmark.inference import measure_inference
from zoo.benchmark.loops import (
    MNIST_TRAIN_IMAGES,
    course_accuracy_run,
    course_steps,
    lightning_steps,
    new_log,
    vanilla_steps,
    zoo_accuracy_run,
    zoo_datamodule,
)
from zoo.benchmark.measure import (
    convolution_seconds,
    load_average,
    matmul_peak_gflops,
    median,
    peak_rss,
    train_flops_per_image,
)
from zoo.benchmark.recipes import Recipe, bench_recipe, fastest_to_99
from zoo.hub import create_model
from zoo.training.allocator import keep_freed_memory

PATHS = ("course", "vanilla", "lightning")
ACCURACY_TARGET = 0.99
INFERENCE_MODEL = "resnet_mnist"
# (model, minimum speed-up of zoo's Trainer over the course's loop per epoch), from the issue.
SPEEDUP_TARGETS = {
    "softmax_mnist": 6.0,
    "cnn_mnist": 6.0,
    "inception_mnist": 3.0,
    "resnet_mnist": 3.5,
}
LIGHTNING_OVERHEAD_TARGET = 0.03
TIME_TO_ACCURACY_TARGET = 8.0


@dataclass
class BenchConfig:
    """What to measure and how long; see `zoo bench --help` for each field."""

    models: list[str]
    data_dir: Path
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    quick: bool = False
    repeats: int = 3
    fraction: float = 0.25
    warmup: int = 3
    accuracy: bool = True
    course_max_epochs: int = 12
    inference: bool = True
    compile_inference: bool = True
    seed: int = 0


def _path_figures(seconds_per_image: list[float], flops: float) -> dict[str, Any]:
    per_image = median(seconds_per_image)
    rate = 1 / per_image
    return {
        "epoch_s": per_image * MNIST_TRAIN_IMAGES,
        "images_per_s": rate,
        "gflops": rate * flops / 1e9,
        "runs_epoch_s": [s * MNIST_TRAIN_IMAGES for s in seconds_per_image],
    }


def _time_one(path: str, recipe: Recipe, config: BenchConfig, dm: Any) -> tuple[float, float]:
    """(seconds per image, peak RSS MiB) of one timed run of `path` for `recipe`'s model."""
    batch = COURSE_BATCH_SIZE if path == "course" else recipe.batch_size
    measured = max(3, round(config.fraction * MNIST_TRAIN_IMAGES / batch))
    steps = config.warmup + measured
    log = new_log(config.device, config.warmup, steps)
    torch.manual_seed(config.seed)
    with peak_rss() as rss:
        if path == "course":
            course_steps(create_model(recipe.model), config.data_dir, log, steps)
        elif path == "vanilla":
            vanilla_steps(recipe.create(), dm, log, steps)
        else:
            lightning_steps(recipe.create(), dm, log, steps)
    return log.seconds_per_step(config.warmup) / batch, rss.mib


def bench_model(name: str, config: BenchConfig, say: Callable[[str], None]) -> dict[str, Any]:
    """Epoch time, images/s, GFLOP/s, share of the matmul peak and peak RSS of the 3 paths."""
    recipe = bench_recipe(name)
    flops = train_flops_per_image(create_model(name), create_model(name).input_shape)
    dm = zoo_datamodule(config.data_dir, recipe.batch_size, config.seed)
    seconds: dict[str, list[float]] = {path: [] for path in PATHS}
    rss: dict[str, list[float]] = {path: [] for path in PATHS}
    convolution: list[float] = []
    for repeat in range(config.repeats):
        for path in _order(repeat):
            per_image, mib = _time_one(path, recipe, config, dm)
            seconds[path].append(per_image)
            rss[path].append(mib)
            say(f"{name} {path} run {repeat + 1}: {per_image * MNIST_TRAIN_IMAGES:.2f} s/epoch")
        convolution.append(_convolution_step_seconds(recipe, dm, config) / recipe.batch_size)
    result: dict[str, Any] = {
        "model": name,
        "train_mflop_per_image": flops / 1e6,
        "batch_size": {"course": COURSE_BATCH_SIZE, "zoo": recipe.batch_size},
        "zoo_hparams": recipe.hparams,
        "zoo_recipe": recipe.source,
    }
    for path in PATHS:
        result[path] = _path_figures(seconds[path], flops)
        result[path]["peak_rss_mib"] = max(rss[path])
    result["speedup_vs_course"] = result["course"]["epoch_s"] / result["lightning"]["epoch_s"]
    # Paired per repeat: the two runs are back to back, so they share the machine's load, which
    # on a shared machine moves single runs by ±15 %; the median of the pairs is the figure.
    pairs = list(zip(seconds["vanilla"], seconds["lightning"], strict=True))
    ratios = [light / plain - 1 for plain, light in pairs]
    result["lightning_overhead"] = median(ratios)
    result["lightning_overhead_runs"] = ratios
    result["lightning_overhead_ms_per_step"] = (
        1e3 * recipe.batch_size * median([light - plain for plain, light in pairs])
    )
    result.update(_convolution_bound(convolution, result["course"]["epoch_s"]))
    return result


def _convolution_step_seconds(recipe: Recipe, dm: Any, config: BenchConfig) -> float:
    """Seconds a training step of zoo's recipe spends in convolutions."""
    images, labels = dm.splits["train"]
    x = dm.preprocess(images[: recipe.batch_size].to(config.device))
    torch.manual_seed(config.seed)
    model = recipe.create().to(config.device).train()
    return convolution_seconds(model, x, labels[: recipe.batch_size].to(config.device))


def _convolution_bound(seconds_per_image: list[float], course_epoch_s: float) -> dict[str, Any]:
    """Convolution seconds per epoch, and the most the epoch ratio could be if nothing else cost."""
    if not seconds_per_image or median(seconds_per_image) == 0:
        return {"convolution_epoch_s": None, "speedup_ceiling": None}
    epoch_s = median(seconds_per_image) * MNIST_TRAIN_IMAGES
    return {"convolution_epoch_s": epoch_s, "speedup_ceiling": course_epoch_s / epoch_s}


def _order(repeat: int) -> tuple[str, ...]:
    # Lightning and the vanilla loop swap places every repeat, so neither always runs first
    # (warmer caches, or the tail of the course loop's load).
    return PATHS if repeat % 2 == 0 else ("course", "lightning", "vanilla")


def time_to_accuracy(config: BenchConfig, say: Callable[[str], None]) -> dict[str, Any]:
    """Training seconds to 99 % test accuracy: zoo's fastest ResNetMNIST recipe vs the course's."""
    recipe = fastest_to_99()
    L.seed_everything(config.seed, verbose=False)
    dm = zoo_datamodule(config.data_dir, recipe.batch_size, config.seed)
    zoo_history = zoo_accuracy_run(recipe.create(), dm, config.device, recipe.epochs)
    say(f"time to 99 %: zoo {zoo_history}")
    torch.manual_seed(config.seed)
    course_history = course_accuracy_run(
        create_model(recipe.model),
        config.data_dir,
        config.device,
        ACCURACY_TARGET,
        config.course_max_epochs,
    )
    say(f"time to 99 %: course {course_history}")

    def first_reach(history: list[tuple[float, float]]) -> float | None:
        return next((s for s, acc in history if acc >= ACCURACY_TARGET), None)

    zoo_s, course_s = first_reach(zoo_history), first_reach(course_history)
    return {
        "model": recipe.model,
        "target_accuracy": ACCURACY_TARGET,
        "zoo": {
            "seconds": zoo_s,
            "history": zoo_history,
            "hparams": recipe.hparams,
            "batch_size": recipe.batch_size,
            "recipe": recipe.source,
        },
        "course": {
            "seconds": course_s,
            "history": course_history,
            "max_epochs": config.course_max_epochs,
        },
        # Without a course time within its epoch cap, the cap's time is a lower bound.
        "speedup": (course_s or course_history[-1][0]) / zoo_s if zoo_s else None,
        "speedup_is_lower_bound": course_s is None,
    }


def _targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for model in results["models"]:
        name = model["model"]
        goal = SPEEDUP_TARGETS[name]
        value = model["speedup_vs_course"]
        rows.append(
            {
                "target": f"{name} epoch: Trainer vs course",
                "goal": f">= {goal}x",
                "value": f"{value:.2f}x",
                "met": value >= goal,
                "note": _ceiling_note(model),
            }
        )
        overhead = model["lightning_overhead"]
        rows.append(
            {
                "target": f"{name} epoch: Lightning overhead vs vanilla loop",
                "goal": f"<= {LIGHTNING_OVERHEAD_TARGET:.0%}",
                "value": f"{overhead:+.1%}",
                "met": overhead <= LIGHTNING_OVERHEAD_TARGET,
                "note": f"{model['lightning_overhead_ms_per_step']:+.2f} ms per step",
            }
        )
    tta = results.get("time_to_accuracy")
    if tta and tta.get("speedup") is not None:
        bound = ">" if tta["speedup_is_lower_bound"] else ""
        rows.append(
            {
                "target": "ResNetMNIST time to 99 %: zoo vs course",
                "goal": f">= {TIME_TO_ACCURACY_TARGET}x",
                "value": f"{bound}{tta['speedup']:.1f}x",
                "met": tta["speedup"] >= TIME_TO_ACCURACY_TARGET,
            }
        )
    inference = results.get("inference") or []
    eager = next((r for r in inference if r["path"] == "eager"), None)
    for row in inference:
        if row["path"] == "eager" or eager is None or row["error"]:
            continue
        for key, better in (
            ("throughput", row["throughput"] / eager["throughput"]),
            ("latency_ms", eager["latency_ms"] / row["latency_ms"]),
        ):
            rows.append(
                {
                    "target": f"inference {key}: {row['path']} vs eager",
                    "goal": "> 1x",
                    "value": f"{better:.2f}x",
                    "met": better > 1,
                }
            )
    return rows


def _ceiling_note(model: dict[str, Any]) -> str:
    if model["speedup_ceiling"] is None:
        return ""
    share = model["convolution_epoch_s"] / model["lightning"]["epoch_s"]
    return (
        f"convolutions alone {model['convolution_epoch_s']:.2f} s/epoch ({share:.0%} of the "
        f"Trainer's): at most {model['speedup_ceiling']:.2f}x with all else free"
    )


def run_benchmark(config: BenchConfig, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Every measurement of one `zoo bench` run, as a JSON-ready dict."""
    device = config.device
    # For every path alike, the course's loop included: see zoo.training.allocator.
    freed_memory_kept = keep_freed_memory()
    environment: dict[str, Any] = {
        "torch": torch.__version__,
        "lightning": L.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "quick": config.quick,
        "repeats": config.repeats,
        "fraction_of_epoch": config.fraction,
        "warmup_steps": config.warmup,
        "load_before": load_average(),
        "cpu": platform.processor() or platform.machine(),
        "data_copies": "1 (tensor-resident, no DataLoader workers)",
        "freed_memory_kept": freed_memory_kept,
    }
    if device.type == "cuda":
        environment["gpu"] = torch.cuda.get_device_name(device)
    peak_before = matmul_peak_gflops(device)
    say(f"fp32 matmul peak: {peak_before:.1f} GFLOP/s on {environment['threads']} thread(s)")
    results: dict[str, Any] = {"environment": environment, "models": []}
    for name in config.models:
        results["models"].append(bench_model(name, config, say))
    if config.accuracy and fastest_to_99().model in config.models:
        results["time_to_accuracy"] = time_to_accuracy(config, say)
    if config.inference and INFERENCE_MODEL in config.models:
        paths = ["eager", "onnxruntime"] + (["torch.compile"] if config.compile_inference else [])
        torch.manual_seed(config.seed)
        measured = measure_inference(create_model(INFERENCE_MODEL), device, paths, config.repeats)
        results["inference"] = [dict(r.to_dict(), model=INFERENCE_MODEL) for r in measured]
    peak_after = matmul_peak_gflops(device)
    environment["matmul_peak_gflops"] = {"before": peak_before, "after": peak_after}
    # Against the better of the two readings: on a shared machine the worse one measures the
    # neighbours' load, not what the hardware can do.
    for model in results["models"]:
        for path in PATHS:
            model[path]["peak_fraction"] = model[path]["gflops"] / max(peak_before, peak_after)
    environment["load_after"] = load_average()
    results["targets"] = _targets(results)
    return results
