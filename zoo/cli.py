"""The `zoo` command: small commands here, Lightning's `fit`/`test`/… in `zoo.lightning_cli`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

Command = Callable[[list[str]], int]


def list_command(argv: list[str]) -> int:
    """`zoo list`: the registered models as a table."""
    parser = argparse.ArgumentParser(prog="zoo list", description="List the models.")
    parser.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    from zoo.models import list_models, model_info

    table = Table(title="zoo models")
    for column in ("name", "class", "lecture", "dataset", "params"):
        table.add_column(column, justify="right" if column == "params" else "left")
    for name in list_models():
        info = model_info(name)
        params = sum(p.numel() for p in info.create().parameters())
        table.add_row(name, info.cls.__name__, info.lecture, info.dataset, f"{params:,}")
    Console().print(table)
    return 0


def demo_command(argv: list[str]) -> int:
    """`zoo demo`: train ResNetMNIST briefly on the bundled MNIST and print its test accuracy."""
    parser = argparse.ArgumentParser(
        prog="zoo demo", description="Train ResNetMNIST on the bundled MNIST (CPU) and test it."
    )
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default 2)")
    parser.add_argument("--data-dir", default=None, help="dataset directory (default: cache)")
    args = parser.parse_args(argv)
    from zoo.demo import run_demo

    accuracy = run_demo(epochs=args.epochs, data_dir=args.data_dir)
    print(f"ResNetMNIST test accuracy: {accuracy:.2%}")
    return 0


def course_command(argv: list[str]) -> int:
    """`zoo course lecture2|lecture3|lecture4`: the lectures before nn.Module."""
    from zoo.course.cli import main as course_main

    return course_main(argv)


def eval_command(argv: list[str]) -> int:
    """`zoo eval MODEL[.TAG]`: re-measure a published weight on its test set, as its card states."""
    from zoo.weights.cli import eval_command as run

    return run(argv)


def publish_command(argv: list[str]) -> int:
    """`zoo publish RUN.ckpt`: publish a checkpoint as verified safetensors with a model card."""
    from zoo.weights.cli import publish_command as run

    return run(argv)


def bench_command(argv: list[str]) -> int:
    """`zoo bench`: time the course's MNIST training loop against zoo's, side by side."""
    from zoo.benchmark import bench_command as run

    return run(argv)


def predict_command(argv: list[str]) -> int:
    """`zoo predict MODEL FILES…`: classify image files (with --config: a recipe's DataModule)."""
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        return _lightning("predict", "")(argv)
    from zoo.predict_cli import predict_command as run

    return run(argv)


def export_command(argv: list[str]) -> int:
    """`zoo export MODEL --format FORMAT -o FILE`: export to ONNX, TorchScript or torch.export."""
    from zoo.export_cli import export_command as run

    return run(argv)


def serve_command(argv: list[str]) -> int:
    """`zoo serve`: the draw-a-digit web page and its JSON API (127.0.0.1 by default)."""
    from zoo.serve import serve_command as run

    return run(argv)


def _lightning(subcommand: str, summary: str) -> Command:
    def command(argv: list[str]) -> int:
        from zoo.allocator import keep_freed_memory
        from zoo.lightning_cli import main as lightning_main

        keep_freed_memory()
        return lightning_main([subcommand, *argv])

    command.__doc__ = f"`zoo {subcommand}`: {summary}"
    return command


COMMANDS: dict[str, Command] = {
    "fit": _lightning("fit", "train a model from YAML recipes (zoo fit --help)"),
    "validate": _lightning("validate", "evaluate a model on the validation split"),
    "test": _lightning("test", "evaluate a model on the test split"),
    "predict": predict_command,
    "list": list_command,
    "demo": demo_command,
    "course": course_command,
    "eval": eval_command,
    "publish": publish_command,
    "bench": bench_command,
    "export": export_command,
    "serve": serve_command,
}


def _usage() -> str:
    lines = ["usage: zoo COMMAND [ARGS]", "", "commands:"]
    lines += [f"  {name:<8} {fn.__doc__.split(':', 1)[1].strip()}" for name, fn in COMMANDS.items()]
    lines += ["", "example: zoo fit --config recipes/resnet_mnist.yaml"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `zoo` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        print(f"zoo: unknown command {args[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    return command(args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
