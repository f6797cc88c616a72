"""The `zoo` command: a table of subcommands, each living in its package's `cli.py`.

A command's module is imported only when it runs, so `zoo --help` and `zoo list` start without
torch or Lightning.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

# name → ("module:function", one-line summary); the function takes argv and returns the exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "fit": ("zoo.training.cli:fit_command", "train a model from YAML recipes (zoo fit --help)"),
    "validate": ("zoo.training.cli:validate_command", "evaluate a model on the validation split"),
    "test": ("zoo.training.cli:test_command", "evaluate a model on the test split"),
    "predict": (
        "zoo.inference.cli:predict_command",
        "classify image files (with --config: a recipe's DataModule)",
    ),
    "list": ("zoo.models.cli:list_command", "the models, with their lectures and sizes"),
    "recipes": ("zoo.training.cli:recipes_command", "the packaged recipes; show or locate one"),
    "demo": ("zoo.training.cli:demo_command", "train ResNetMNIST briefly and print its accuracy"),
    "course": ("zoo.course.cli:course_command", "the lectures before nn.Module (lecture2|3|4)"),
    "eval": ("zoo.weights.cli:eval_command", "re-measure a published weight on its test set"),
    "publish": ("zoo.weights.cli:publish_command", "publish a checkpoint as verified weights"),
    "bench": ("zoo.benchmark.cli:bench_command", "time the course's training loop against zoo's"),
    "export": ("zoo.inference.cli:export_command", "export to ONNX, TorchScript or torch.export"),
    "serve": ("zoo.serve.cli:serve_command", "the draw-a-digit web page and its JSON API"),
}


def usage() -> str:
    """The short help `zoo` and `zoo --help` print."""
    lines = ["usage: zoo COMMAND [ARGS]   (zoo --version, zoo COMMAND --help)", "", "commands:"]
    lines += [f"  {name:<8} {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "example: zoo fit --config recipes/resnet_mnist.yaml"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `zoo` console script."""
    try:
        return _dispatch(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        # The reader went away (`zoo list | head`): not an error worth a traceback. Point stdout
        # at /dev/null so that the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for a process ended by SIGPIPE


def _dispatch(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0
    if args[0] in ("-V", "--version"):
        from zoo import __version__

        print(f"zoo {__version__}")
        return 0
    if args[0] not in COMMANDS:
        print(f"zoo: unknown command {args[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module, _, function = COMMANDS[args[0]][0].partition(":")
    return getattr(importlib.import_module(module), function)(args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
