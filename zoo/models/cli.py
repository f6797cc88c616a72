"""`zoo list`: the registered models, read from the registry alone (no torch, no Lightning)."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from zoo.models.registry import model_info, model_names


def list_command(argv: list[str]) -> int:
    """Print the models as a table whose names are never cut (they are what users type)."""
    parser = argparse.ArgumentParser(prog="zoo list", description="List the models.")
    parser.parse_args(argv)
    table = Table(title="zoo models")
    table.add_column("name", no_wrap=True)
    table.add_column("class", no_wrap=True)
    table.add_column("lecture")
    table.add_column("dataset")
    table.add_column("params", justify="right", no_wrap=True)
    for name in model_names():
        info = model_info(name)
        table.add_row(
            name, info.class_name, info.lecture, info.dataset, f"{info.parameter_count():,}"
        )
    Console().print(table)
    return 0
