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
    # No rules and the free-text lecture column last: at 80 columns the names, classes and sizes
    # keep one line each (min_width: never cut) and only the lecture title wraps.
    table = Table(
        title="zoo models",
        box=None,
        pad_edge=False,
        padding=(0, 2, 0, 0),
        header_style="bold underline",
    )
    names = model_names()
    infos = [model_info(name) for name in names]
    for column, values in (("name", names), ("class", [i.class_name for i in infos])):
        table.add_column(column, no_wrap=True, min_width=max(map(len, values)))
    table.add_column("dataset", no_wrap=True, min_width=8)
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("lecture", overflow="fold")
    for info in infos:
        table.add_row(
            info.name, info.class_name, info.dataset, f"{info.parameter_count():,}", info.lecture
        )
    Console().print(table)
    return 0
