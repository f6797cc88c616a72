"""`zoo bench`: parse and check the arguments, run the benchmark, write the report."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import torch

from zoo.benchmark.precisions import PRECISION_CHOICES, bench_precisions
from zoo.benchmark.recipes import BENCH_MODELS, bench_recipe, fastest_to_99, shipped_recipe
from zoo.training.recipes import RecipeError

DEFAULT_SEEDS = (0, 1, 2)


def parse_seeds(text: str) -> tuple[int, ...]:
    """`--seeds 0,1,2` → (0, 1, 2): distinct non-negative integers, at least one."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        seeds = tuple(int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of integers (e.g. 0,1,2)"
        ) from None
    if not seeds:
        raise argparse.ArgumentTypeError("give at least one seed (e.g. 0,1,2)")
    if any(seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds must be distinct and >= 0, got {text!r}")
    return seeds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo bench",
        description="Time the course's MNIST training loop against zoo's (vanilla loop and "
        "Lightning Trainer, in fp32 and in bf16 where the hardware has it natively) side by "
        "side, then time to 99 % accuracy and inference.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 2 %% of an epoch, 1 repeat, no time-to-accuracy, "
        "no torch.compile (well under a minute for one model)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISION_CHOICES,
        default="auto",
        help="precisions of zoo's rows: auto (default) = fp32, plus bf16 where the CPU (AMX, "
        "AVX512-BF16) or GPU has it natively; fp32; bf16; all = fp32 and bf16 even where bf16 "
        "is emulated. The course loop is always fp32",
    )
    parser.add_argument(
        "--models",
        default=",".join(BENCH_MODELS),
        help=f"comma-separated subset of: {', '.join(BENCH_MODELS)} (their recipes: "
        "recipes/bench/MODEL.yaml)",
    )
    parser.add_argument("--out", default="bench-results", help="output directory")
    parser.add_argument("--data-dir", default=None, help="dataset directory (default: cache)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (e.g. cuda:0)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads for every path (default: torch's choice)",
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per path")
    parser.add_argument(
        "--fraction",
        type=float,
        default=None,
        help="fraction of an epoch timed per run (default 0.25; quick 0.02)",
    )
    parser.add_argument("--no-accuracy", action="store_true", help="skip time to 99 %%")
    parser.add_argument(
        "--seeds",
        type=parse_seeds,
        default=DEFAULT_SEEDS,
        help="seeds of the time-to-99 %% runs, comma-separated; the worst counts (default 0,1,2)",
    )
    parser.add_argument("--no-inference", action="store_true", help="skip inference timing")
    parser.add_argument(
        "--course-max-epochs",
        type=int,
        default=12,
        help="cap on the course loop's epochs in the time-to-99 %% run",
    )
    return parser


def _check(args: argparse.Namespace) -> list[str]:
    """The clear complaints about `args`, if any (checked before anything runs or is written)."""
    problems = []
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in BENCH_MODELS]
    if unknown or not models:
        choose = list(BENCH_MODELS)
        problems.append(f"--models: unknown {unknown or 'empty list'}; choose from {choose}")
    # The recipes are read now, so that a broken one stops the run before anything is timed.
    readers = [partial(bench_recipe, m) for m in models if m in BENCH_MODELS]
    readers += [fastest_to_99, shipped_recipe]
    for read in readers:
        try:
            read()
        except RecipeError as err:
            problems.append(str(err))
    if args.threads is not None and args.threads < 1:
        problems.append(f"--threads must be >= 1, got {args.threads}")
    if args.repeats is not None and args.repeats < 1:
        problems.append(f"--repeats must be >= 1, got {args.repeats}")
    if args.fraction is not None and not 0 < args.fraction <= 1:
        problems.append(f"--fraction must be in (0, 1], got {args.fraction}")
    if args.course_max_epochs < 1:
        problems.append(f"--course-max-epochs must be >= 1, got {args.course_max_epochs}")
    try:
        device = torch.device(args.device)
        if device.type not in ("cpu", "cuda"):
            problems.append(f"--device must be cpu or cuda, got {args.device!r}")
        elif device.type == "cuda" and not torch.cuda.is_available():
            problems.append("--device cuda: no CUDA GPU is visible to PyTorch; use --device cpu")
    except RuntimeError:
        problems.append(f"--device: {args.device!r} is not a device name; use cpu or cuda")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        problems.append(f"--out {args.out} is a file; give a directory")
    return problems


def bench_command(argv: list[str]) -> int:
    """`zoo bench`: time the course's training loop against zoo's, side by side."""
    parser = _parser()
    args = parser.parse_args(argv)
    problems = _check(args)
    if problems:
        parser.error("; ".join(problems))
    from zoo.benchmark.report import write_report
    from zoo.benchmark.runner import BenchConfig, run_benchmark
    from zoo.data import default_data_dir

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    config = BenchConfig(
        models=[m.strip() for m in args.models.split(",") if m.strip()],
        data_dir=Path(args.data_dir).expanduser() if args.data_dir else default_data_dir(),
        device=torch.device(args.device),
        quick=args.quick,
        repeats=args.repeats or (1 if args.quick else 3),
        fraction=args.fraction or (0.02 if args.quick else 0.25),
        warmup=2 if args.quick else 3,
        accuracy=not (args.quick or args.no_accuracy),
        course_max_epochs=args.course_max_epochs,
        inference=not args.no_inference,
        compile_inference=not args.quick,
        precisions=bench_precisions(args.precision, torch.device(args.device)),
        seeds=args.seeds,
    )
    results = run_benchmark(config, say=lambda line: print(line, flush=True))
    paths = write_report(results, Path(args.out))
    print(paths["markdown"].read_text())
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0
