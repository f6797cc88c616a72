"""One benchmark run: every measurement side by side in one process, then the targets.

Per model, each repeat times the course's loop, then for each precision measured (fp32, and bf16
where the hardware has it natively) the vanilla loop on zoo's pipeline and zoo's Trainer one
after another (interleaved, so a change in machine load hits them alike), after warm-up steps,
over a fraction of an epoch; epoch times are extrapolated to the 60,000 training images and
reported as medians over the repeats. The course's loop is the course's fp32 script in every
row. Lightning's cost is the median over repeats of the paired difference Trainer − vanilla
loop (adjacent runs, alternating which goes first). Each repeat also times the model's
convolutions inside real steps under the row's autocast: what an epoch would take if nothing
else did, so the most any loop could gain against the course's.

For ResNetMNIST, a further row times what a user gets from `zoo fit --config
recipes/resnet_mnist.yaml` (augmentation, batch 128, a 5,000-image validation split, the
precision `zoo fit` picks here), an epoch as shipped: its training steps plus a validation pass.
The time to 99 % trains `recipes/resnet_mnist_99.yaml` on each of `seeds` and reports the worst.
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
    validation_seconds,
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
from zoo.benchmark.precisions import headline_precision, machine, precision_of
from zoo.benchmark.recipes import Recipe, bench_recipe, fastest_to_99, shipped_recipe
from zoo.data import MNISTDataModule
from zoo.hub import create_model
from zoo.training.allocator import keep_freed_memory
from zoo.training.precision import training_precision

PATHS = ("course", "vanilla", "lightning")
ZOO_PATHS = ("vanilla", "lightning")
ACCURACY_TARGET = 0.99
INFERENCE_MODEL = "resnet_mnist"
SHIPPED_MODEL = "resnet_mnist"
"""The model whose user recipe is also timed as shipped (`recipes/resnet_mnist.yaml`)."""
SHIPPED_VAL_SIZE = 5000
"""What `zoo fit` holds out for validation (MNISTDataModule's default): not trained on."""

# The targets, from the issue: (goal where the CPU or GPU has native bf16, goal where it has not).
SPEEDUP_TARGETS = {
    "softmax_mnist": (12.0, 10.0),
    "cnn_mnist": (6.0, 4.0),
    "inception_mnist": (3.0, 2.0),
    "resnet_mnist": (5.0, 3.0),
}
"""Per model: the least epoch ratio course loop / zoo Trainer."""
SHIPPED_SPEEDUP_TARGET = (4.0, 2.5)
"""The least ratio course epoch / epoch of `zoo fit --config recipes/resnet_mnist.yaml`."""
TIME_TO_99_TARGET_S = (2.5, 5.0)
"""The most training seconds to 99 % (worst of the seeds) on a CPU."""
GPU_TIME_TO_99_TARGET_S = 1.5
"""The same on a GPU (set for an H200)."""
LIGHTNING_COST_TARGET_MS = 0.5
"""The most the Trainer may add to a step over the vanilla loop, in ms."""


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
    precisions: tuple[str, ...] = ("fp32",)
    seeds: tuple[int, ...] = (0, 1, 2)
    # The "zoo fit as shipped" row of ResNetMNIST (no command-line switch: it costs one more
    # path per repeat, and only when resnet_mnist is benchmarked).
    shipped: bool = True


def _path_figures(seconds_per_image: list[float], flops: float) -> dict[str, Any]:
    per_image = median(seconds_per_image)
    rate = 1 / per_image
    return {
        "epoch_s": per_image * MNIST_TRAIN_IMAGES,
        "images_per_s": rate,
        "gflops": rate * flops / 1e9,
        "runs_epoch_s": [s * MNIST_TRAIN_IMAGES for s in seconds_per_image],
    }


def _time_one(
    path: str, recipe: Recipe, config: BenchConfig, dm: MNISTDataModule, precision: str = "fp32"
) -> tuple[float, float]:
    """(seconds per image, peak RSS MiB) of one timed run of `path` for `recipe`'s model.

    `precision` is the zoo paths' (a row's "fp32"/"bf16" or a Lightning precision string);
    the course's loop always runs the course's fp32 script.
    """
    batch = COURSE_BATCH_SIZE if path == "course" else recipe.batch_size
    images = MNIST_TRAIN_IMAGES - dm.val_size
    measured = max(3, round(config.fraction * images / batch))
    steps = config.warmup + measured
    log = new_log(config.device, config.warmup, steps)
    torch.manual_seed(config.seed)
    with peak_rss() as rss:
        if path == "course":
            course_steps(create_model(recipe.model), config.data_dir, log, steps)
        elif path == "vanilla":
            vanilla_steps(recipe.create(), dm, log, steps, precision)
        else:
            lightning_steps(recipe.create(), dm, log, steps, precision)
    return log.seconds_per_step(config.warmup) / batch, rss.mib


def bench_model(name: str, config: BenchConfig, say: Callable[[str], None]) -> dict[str, Any]:
    """Epoch time, images/s, GFLOP/s, peak RSS and convolution floor of every path and precision.

    The share of the matmul peak is added by `run_benchmark`, once both peak readings exist.
    """
    recipe = bench_recipe(name)
    flops = train_flops_per_image(create_model(name), create_model(name).input_shape)
    dm = zoo_datamodule(config.data_dir, recipe.batch_size, config.seed, augment=recipe.augment)
    shipped = _Shipped.setup(config) if name == SHIPPED_MODEL and config.shipped else None
    course: list[float] = []
    course_rss: list[float] = []
    seconds = {p: {path: [] for path in ZOO_PATHS} for p in config.precisions}
    rss = {p: {path: [] for path in ZOO_PATHS} for p in config.precisions}
    convolution: dict[str, list[float]] = {p: [] for p in config.precisions}
    for repeat in range(config.repeats):
        per_image, mib = _time_one("course", recipe, config, dm)
        course.append(per_image)
        course_rss.append(mib)
        say(f"{name} course run {repeat + 1}: {per_image * MNIST_TRAIN_IMAGES:.2f} s/epoch")
        # Precisions, like the two zoo paths, swap order every repeat.
        order = config.precisions if repeat % 2 == 0 else config.precisions[::-1]
        for precision in order:
            for path in _order(repeat):
                per_image, mib = _time_one(path, recipe, config, dm, precision)
                seconds[precision][path].append(per_image)
                rss[precision][path].append(mib)
                epoch_s = per_image * MNIST_TRAIN_IMAGES
                say(f"{name} {path} {precision} run {repeat + 1}: {epoch_s:.2f} s/epoch")
            step_s = _convolution_step_seconds(recipe, dm, config, precision)
            convolution[precision].append(step_s / recipe.batch_size)
        if shipped is not None:
            shipped.time_one(config, say, repeat)
    result: dict[str, Any] = {
        "model": name,
        "train_mflop_per_image": flops / 1e6,
        "batch_size": {"course": COURSE_BATCH_SIZE, "zoo": recipe.batch_size},
        "zoo_hparams": recipe.hparams,
        "zoo_recipe": recipe.source,
        "course": {**_path_figures(course, flops), "peak_rss_mib": max(course_rss)},
        "precisions": {},
    }
    course_epoch_s = result["course"]["epoch_s"]
    for precision in config.precisions:
        row: dict[str, Any] = {}
        for path in ZOO_PATHS:
            row[path] = _path_figures(seconds[precision][path], flops)
            row[path]["peak_rss_mib"] = max(rss[precision][path])
        row["speedup_vs_course"] = course_epoch_s / row["lightning"]["epoch_s"]
        row.update(_lightning_cost(seconds[precision], recipe.batch_size))
        row.update(_convolution_bound(convolution[precision], course_epoch_s))
        result["precisions"][precision] = row
    if shipped is not None:
        result["shipped"] = shipped.figures(flops, course_epoch_s)
    return result


def _lightning_cost(seconds: dict[str, list[float]], batch: int) -> dict[str, Any]:
    """What the Trainer adds to a step over the vanilla loop: relative and in ms per step.

    Paired per repeat: the two runs are back to back, so they share the machine's load, which on
    a shared machine moves single runs by ±15 %; the median of the pairs is the figure.
    """
    pairs = list(zip(seconds["vanilla"], seconds["lightning"], strict=True))
    ratios = [light / plain - 1 for plain, light in pairs]
    return {
        "lightning_overhead": median(ratios),
        "lightning_overhead_runs": ratios,
        "lightning_overhead_ms_per_step": 1e3 * batch * median([b - a for a, b in pairs]),
    }


@dataclass
class _Shipped:
    """The "as shipped" row: `zoo fit --config recipes/resnet_mnist.yaml`'s epoch, timed."""

    recipe: Recipe
    dm: MNISTDataModule
    precision: str
    seconds: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)
    convolution: list[float] = field(default_factory=list)

    @classmethod
    def setup(cls, config: BenchConfig) -> _Shipped:
        """The user's recipe, data (augmentation, validation split) and `zoo fit`'s precision."""
        recipe = shipped_recipe()
        dm = zoo_datamodule(
            config.data_dir, recipe.batch_size, config.seed, recipe.augment, SHIPPED_VAL_SIZE
        )
        return cls(recipe, dm, training_precision(config.device.type))

    @property
    def steps_per_epoch(self) -> int:
        # MNISTDataModule drops the last partial batch of an epoch.
        return (MNIST_TRAIN_IMAGES - self.dm.val_size) // self.recipe.batch_size

    def time_one(self, config: BenchConfig, say: Callable[[str], None], repeat: int) -> None:
        """One timed fraction of its epoch, one validation pass and its convolutions."""
        per_image, mib = _time_one("lightning", self.recipe, config, self.dm, self.precision)
        self.seconds.append(per_image)
        self.rss.append(mib)
        torch.manual_seed(config.seed)
        model = self.recipe.create()
        self.validation.append(validation_seconds(model, self.dm, config.device, self.precision))
        conv = _convolution_step_seconds(self.recipe, self.dm, config, precision_of(self.precision))
        self.convolution.append(conv / self.recipe.batch_size)
        epoch_s = per_image * self.recipe.batch_size * self.steps_per_epoch + self.validation[-1]
        say(f"{self.recipe.model} zoo fit as shipped run {repeat + 1}: {epoch_s:.2f} s/epoch")

    def figures(self, flops: float, course_epoch_s: float) -> dict[str, Any]:
        """The row: an epoch = its training steps + one validation pass, against the course's."""
        batch, steps = self.recipe.batch_size, self.steps_per_epoch
        per_image = median(self.seconds)
        train_s = per_image * batch * steps
        validation_s = median(self.validation)
        epoch_s = train_s + validation_s
        conv_s = median(self.convolution) * batch * steps if any(self.convolution) else None
        return {
            "recipe": self.recipe.source,
            "precision": self.precision,
            "batch_size": batch,
            "augment": self.recipe.augment,
            "hparams": self.recipe.hparams,
            "train_images": steps * batch,
            "steps_per_epoch": steps,
            "train_epoch_s": train_s,
            "validation_s": validation_s,
            "epoch_s": epoch_s,
            "images_per_s": 1 / per_image,
            "gflops": flops / per_image / 1e9,
            "runs_epoch_s": [
                s * batch * steps + v for s, v in zip(self.seconds, self.validation, strict=True)
            ],
            "peak_rss_mib": max(self.rss),
            "speedup_vs_course": course_epoch_s / epoch_s,
            "convolution_epoch_s": conv_s,
            "speedup_ceiling": course_epoch_s / conv_s if conv_s else None,
        }


def _convolution_step_seconds(
    recipe: Recipe, dm: MNISTDataModule, config: BenchConfig, precision: str
) -> float:
    """Seconds a training step of zoo's recipe spends in convolutions, under `precision`."""
    images, labels = dm.splits["train"]
    x = dm.preprocess(images[: recipe.batch_size].to(config.device))
    torch.manual_seed(config.seed)
    model = recipe.create().to(config.device).train()
    y = labels[: recipe.batch_size].to(config.device)
    return convolution_seconds(model, x, y, precision)


def _convolution_bound(seconds_per_image: list[float], course_epoch_s: float) -> dict[str, Any]:
    """Convolution seconds per epoch, and the most the epoch ratio could be if nothing else cost."""
    if not seconds_per_image or median(seconds_per_image) == 0:
        return {"convolution_epoch_s": None, "speedup_ceiling": None}
    epoch_s = median(seconds_per_image) * MNIST_TRAIN_IMAGES
    return {"convolution_epoch_s": epoch_s, "speedup_ceiling": course_epoch_s / epoch_s}


def _order(repeat: int) -> tuple[str, ...]:
    # Lightning and the vanilla loop swap places every repeat, so neither always runs first
    # (warmer caches, or the tail of the previous run's load).
    return ZOO_PATHS if repeat % 2 == 0 else ZOO_PATHS[::-1]


def _first_reach(history: list[tuple[float, float]]) -> float | None:
    return next((s for s, acc in history if acc >= ACCURACY_TARGET), None)


def time_to_accuracy(
    config: BenchConfig, say: Callable[[str], None], precision: str = "fp32"
) -> dict[str, Any]:
    """Training seconds to 99 % test accuracy of zoo's fastest ResNetMNIST recipe, in
    `precision`, on each of `config.seeds` (the worst is the figure), and of the course's loop."""
    recipe = fastest_to_99()
    # A few untimed steps first, as every timed path has: the process's first steps at this
    # batch and precision set up kernels (~0.5 s here), which would land on the first seed only.
    dm = zoo_datamodule(config.data_dir, recipe.batch_size, config.seeds[0], recipe.augment)
    warmup = config.warmup + 2
    lightning_steps(recipe.create(), dm, new_log(config.device, 1, warmup), warmup, precision)
    runs = []
    for seed in config.seeds:
        L.seed_everything(seed, verbose=False)
        dm = zoo_datamodule(config.data_dir, recipe.batch_size, seed, augment=recipe.augment)
        history = zoo_accuracy_run(
            recipe.create(), dm, config.device, recipe.epochs, precision, recipe.max_steps
        )
        seconds = _first_reach(history)
        runs.append({"seed": seed, "seconds": seconds, "accuracy": history[-1][1],
                     "history": history})  # fmt: skip
        say(f"time to 99 %: zoo seed {seed}, {precision}: {history}")
    reached = [run["seconds"] for run in runs]
    worst = None if None in reached else max(reached)
    steps_per_epoch = MNIST_TRAIN_IMAGES // recipe.batch_size  # the last partial batch dropped
    steps = recipe.epochs * steps_per_epoch
    steps = min(steps, recipe.max_steps) if recipe.max_steps else steps
    conv_step_s = _convolution_step_seconds(recipe, dm, config, precision)
    torch.manual_seed(config.seeds[0])
    course_history = course_accuracy_run(
        create_model(recipe.model),
        config.data_dir,
        config.device,
        ACCURACY_TARGET,
        config.course_max_epochs,
    )
    say(f"time to 99 %: course {course_history}")
    course_s = _first_reach(course_history)
    return {
        "model": recipe.model,
        "target_accuracy": ACCURACY_TARGET,
        "precision": precision,
        "seeds": list(config.seeds),
        "zoo": {
            "seconds": worst,
            "runs": runs,
            "hparams": recipe.hparams,
            "batch_size": recipe.batch_size,
            "steps": steps,
            "recipe": recipe.source,
            "convolution_s": conv_step_s * steps if conv_step_s else None,
        },
        "course": {
            "seconds": course_s,
            "history": course_history,
            "max_epochs": config.course_max_epochs,
        },
        # Without a course time within its epoch cap, the cap's time is a lower bound.
        "speedup": (course_s or course_history[-1][0]) / worst if worst else None,
        "speedup_is_lower_bound": course_s is None,
    }


def _targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    env = results["environment"]
    column = 0 if env["native_bf16"] else 1
    precision = env["headline_precision"]
    rows = []
    for model in results["models"]:
        name = model["model"]
        row = model["precisions"][precision]
        goal = SPEEDUP_TARGETS[name][column]
        value = row["speedup_vs_course"]
        met = value >= goal
        note = _ceiling_note(row, row["lightning"]["epoch_s"]) or _peak_note(row, precision)
        if not met:
            vanilla = model["course"]["epoch_s"] / row["vanilla"]["epoch_s"]
            note += f"; the vanilla loop: {vanilla:.2f}x"
        rows.append(
            {
                "target": f"{name} epoch: zoo Trainer vs course ({precision})",
                "goal": f">= {goal:g}x",
                "value": f"{value:.2f}x",
                "met": met,
                "note": note,
            }
        )
        cost = row["lightning_overhead_ms_per_step"]
        met = cost <= LIGHTNING_COST_TARGET_MS
        note = f"{row['lightning_overhead']:+.1%} of a step"
        if not met:
            note += "; the Trainer's own Python per step (loop, hooks, optimizer closure)"
        rows.append(
            {
                "target": f"{name}: Lightning's cost per step vs vanilla loop ({precision})",
                "goal": f"<= {LIGHTNING_COST_TARGET_MS:g} ms",
                "value": f"{cost:+.2f} ms",
                "met": met,
                "note": note,
            }
        )
        shipped = model.get("shipped")
        if shipped:
            goal = SHIPPED_SPEEDUP_TARGET[column]
            value = shipped["speedup_vs_course"]
            note = (
                f"batch {shipped['batch_size']}, augmentation, {shipped['precision']}, "
                f"{shipped['train_images']:,} images + validation {shipped['validation_s']:.2f} s"
            )
            ceiling = _ceiling_note(shipped, shipped["epoch_s"])
            rows.append(
                {
                    "target": f"{name} epoch as shipped (zoo fit --config "
                    f"recipes/{shipped['recipe']}.yaml) vs course",
                    "goal": f">= {goal:g}x",
                    "value": f"{value:.2f}x",
                    "met": value >= goal,
                    "note": f"{note}; {ceiling}" if ceiling else note,
                }
            )
    tta = results.get("time_to_accuracy")
    if tta:
        rows.append(_time_to_99_target(tta, env, column))
    rows += _inference_targets(results.get("inference") or [])
    return rows


def _time_to_99_target(tta: dict[str, Any], env: dict[str, Any], column: int) -> dict[str, Any]:
    zoo = tta["zoo"]
    on_gpu = str(env["device"]).startswith("cuda")
    goal = GPU_TIME_TO_99_TARGET_S if on_gpu else TIME_TO_99_TARGET_S[column]
    seeds = ", ".join(str(s) for s in tta["seeds"])
    per_seed = "; ".join(
        f"seed {r['seed']} {r['accuracy']:.2%} in "
        + (f"{r['seconds']:.2f} s" if r["seconds"] is not None else "– (not reached)")
        for r in zoo["runs"]
    )
    parts = [per_seed]
    worst = zoo["seconds"]
    if zoo["convolution_s"] and (worst is None or worst > goal):
        parts.append(f"{zoo['steps']} steps, convolutions alone {zoo['convolution_s']:.2f} s")
    if tta["speedup"] is not None:
        bound = ">" if tta["speedup_is_lower_bound"] else ""
        parts.append(f"course loop {bound}{tta['speedup']:.0f}x slower")
    return {
        "target": f"{tta['model']} time to {tta['target_accuracy']:.1%} "
        f"({zoo['recipe']}, {tta['precision']}), worst of seeds {seeds}",
        "goal": f"<= {goal:g} s" + (" (GPU)" if on_gpu else ""),
        "value": f"{worst:.2f} s" if worst is not None else "not reached",
        "met": worst is not None and worst <= goal,
        "note": "; ".join(parts),
    }


def _inference_targets(inference: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
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


def _peak_note(row: dict[str, Any], precision: str) -> str:
    """What bounds a row without convolutions: how close the Trainer runs to the matmul peak."""
    share = row["lightning"].get("peak_fraction")
    if not share:
        return ""
    return (
        f"the Trainer at {share:.0%} of the {precision} matmul peak: at most "
        f"{row['speedup_vs_course'] / share:.1f}x at the peak"
    )


def _ceiling_note(row: dict[str, Any], epoch_s: float) -> str:
    """What bounds a row's ratio: its convolutions' share of an epoch of `epoch_s` seconds."""
    convolution_s, ceiling = row["convolution_epoch_s"], row["speedup_ceiling"]
    if ceiling is None or convolution_s is None:
        return ""
    return (
        f"convolutions alone {convolution_s:.2f} s/epoch ({convolution_s / epoch_s:.0%} of it): "
        f"at most {ceiling:.2f}x with all else free"
    )


def _peaks(device: torch.device, precisions: list[str]) -> dict[str, float]:
    return {precision: matmul_peak_gflops(device, precision) for precision in precisions}


def run_benchmark(config: BenchConfig, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Every measurement of one `zoo bench` run, as a JSON-ready dict."""
    device = config.device
    # For every path alike, the course's loop included: see zoo.training.allocator.
    freed_memory_kept = keep_freed_memory()
    facts = machine(device)
    headline = headline_precision(config.precisions, facts["native_bf16"])
    shipped = config.shipped and SHIPPED_MODEL in config.models
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
        **facts,
        "arch": platform.machine(),
        "precisions": list(config.precisions),
        "headline_precision": headline,
        "data_copies": "1 (tensor-resident, no DataLoader workers)",
        "freed_memory_kept": freed_memory_kept,
    }
    # fp32 for the course's rows, each measured precision for zoo's, and the one `zoo fit` picks
    # for the as-shipped row.
    wanted = {"fp32", *config.precisions}
    if shipped:
        wanted.add(precision_of(training_precision(device.type)))
    peak_precisions = [p for p in ("fp32", "bf16") if p in wanted]
    before = _peaks(device, peak_precisions)
    peaks_text = ", ".join(f"{p} {before[p]:.1f}" for p in peak_precisions)
    say(f"matmul peak GFLOP/s: {peaks_text} on {environment['threads']} thread(s)")
    results: dict[str, Any] = {"environment": environment, "models": []}
    for name in config.models:
        results["models"].append(bench_model(name, config, say))
    if config.accuracy and fastest_to_99().model in config.models:
        results["time_to_accuracy"] = time_to_accuracy(config, say, headline)
    if config.inference and INFERENCE_MODEL in config.models:
        paths = ["eager", "onnxruntime"] + (["torch.compile"] if config.compile_inference else [])
        torch.manual_seed(config.seed)
        measured = measure_inference(create_model(INFERENCE_MODEL), device, paths, config.repeats)
        results["inference"] = [dict(r.to_dict(), model=INFERENCE_MODEL) for r in measured]
    after = _peaks(device, peak_precisions)
    environment["matmul_peak_gflops"] = {
        p: {"before": before[p], "after": after[p]} for p in peak_precisions
    }
    # Against the better of the two readings of the row's own precision: on a shared machine the
    # worse one measures the neighbours' load, not what the hardware can do.
    peak = {p: max(before[p], after[p]) for p in peak_precisions}
    for model in results["models"]:
        model["course"]["peak_fraction"] = model["course"]["gflops"] / peak["fp32"]
        for precision, row in model["precisions"].items():
            for path in ZOO_PATHS:
                row[path]["peak_fraction"] = row[path]["gflops"] / peak[precision]
        if "shipped" in model:
            row = model["shipped"]
            row["peak_fraction"] = row["gflops"] / peak[precision_of(row["precision"])]
    environment["load_after"] = load_average()
    results["targets"] = _targets(results)
    return results
