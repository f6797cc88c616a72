"""The `zoo` command: a table of subcommands, each living in its package's `cli.py`.

A command's module is imported only when it runs, so `zoo --help` and `zoo list` start without
torch or Lightning. `main` is the one error boundary of every command: an expected fault prints
`zoo COMMAND: what is wrong — how to fix it` and exits non-zero (`zoo.errors`); a bug keeps its
traceback; `--debug` or `ZOO_DEBUG=1` shows the traceback for everything.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from zoo.errors import EXIT_INTERRUPTED, fault_line

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
    lines = ["usage: zoo [--debug] COMMAND [ARGS]   (zoo --version, zoo COMMAND --help)", "",
             "commands:"]  # fmt: skip
    lines += [f"  {name:<8} {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "example: zoo fit --config recipes/resnet_mnist.yaml"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `zoo` console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("ZOO_DEBUG", "") not in ("", "0")
    args = [arg for arg in args if arg != "--debug"]
    if argv is None and debug:
        sys.argv[1:] = args  # Lightning reads sys.argv itself, and has no --debug
    name = f"zoo {args[0]}" if args and args[0] in COMMANDS else "zoo"
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print(f"{name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`zoo list | head`): not an error worth a traceback. Point stdout
        # at /dev/null so that the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for a process ended by SIGPIPE
    except Exception as error:
        fault = fault_line(error)
        if fault is None:
            raise  # a bug: its traceback is what a report needs
        if debug:
            traceback.print_exc()
        from zoo.training.run_dir import process_rank

        if process_rank() == 0:  # under DDP every rank meets the fault; one line is enough
            print(f"{name}: {fault[0]}", file=sys.stderr)
        return fault[1]


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
