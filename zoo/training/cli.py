"""The training commands: `zoo fit|validate|test` (Lightning's CLI), `zoo demo`, `zoo recipes`.

Lightning is imported only by the commands that train, so `zoo recipes` answers at once.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap


def lightning_command(subcommand: str, argv: list[str]) -> int:
    """`zoo fit|validate|test|predict ARGS`: keep freed memory, then run Lightning's CLI."""
    from zoo.training.allocator import keep_freed_memory
    from zoo.training.lightning_cli import main

    keep_freed_memory()
    return main([subcommand, *argv])


def fit_command(argv: list[str]) -> int:
    """`zoo fit`: train a model from YAML recipes."""
    return lightning_command("fit", argv)


def validate_command(argv: list[str]) -> int:
    """`zoo validate`: evaluate a model on the validation split."""
    return lightning_command("validate", argv)


def test_command(argv: list[str]) -> int:
    """`zoo test`: evaluate a model on the test split."""
    return lightning_command("test", argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def demo_command(argv: list[str]) -> int:
    """`zoo demo`: train the demo recipe (ResNetMNIST) briefly and print its test accuracy."""
    parser = argparse.ArgumentParser(
        prog="zoo demo",
        description="Train ResNetMNIST on the bundled MNIST (CPU) with recipes/demo.yaml, then "
        "test it on the official test set.",
    )
    parser.add_argument(
        "--epochs", type=_positive, default=None, help="training epochs (default: the recipe's)"
    )
    parser.add_argument("--data-dir", default=None, help="dataset directory (default: cache)")
    args = parser.parse_args(argv)
    from zoo.training.demo import run_demo

    accuracy = run_demo(epochs=args.epochs, data_dir=args.data_dir)
    print(f"ResNetMNIST test accuracy: {accuracy:.2%}")
    return 0


def recipes_command(argv: list[str]) -> int:
    """`zoo recipes [show|path NAME]`: list the packaged recipes, print one, or give its path."""
    parser = argparse.ArgumentParser(
        prog="zoo recipes",
        description="The recipes shipped with zoo, usable by name: zoo fit --config resnet_mnist "
        "--config trainer/gpu. `show NAME` prints one to copy and edit; `path NAME` prints where "
        'it is (e.g. sbatch "$(zoo recipes path slurm/train.sbatch)" resnet_mnist).',
    )
    parser.add_argument("action", nargs="?", choices=("list", "show", "path"), default="list")
    parser.add_argument("name", nargs="?", help="a recipe name, e.g. resnet_mnist or trainer/gpu")
    args = parser.parse_args(argv)
    from zoo.training.recipes import list_recipes, recipe_path

    if args.action == "list":
        if args.name:
            parser.error(f"`zoo recipes` takes no name; try `zoo recipes show {args.name}`")
        _print_recipes(list_recipes())
        return 0
    if not args.name:
        parser.error(f"`zoo recipes {args.action}` needs a recipe name (see `zoo recipes`)")
    path = recipe_path(args.name)
    if args.action == "path":
        print(path)
    else:
        sys.stdout.write(path.read_text(encoding="utf-8"))
    return 0


def _print_recipes(recipes: dict[str, str]) -> None:
    # Names are what users type, so they are never cut; descriptions wrap beside them.
    width = max(map(len, recipes))
    columns = max(shutil.get_terminal_size().columns - width - 2, 30)
    for name, description in recipes.items():
        lines = textwrap.wrap(description, columns) or [""]
        print(f"{name:<{width}}  {lines[0]}")
        for line in lines[1:]:
            print(f"{'':<{width}}  {line}")
