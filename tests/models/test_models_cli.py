"""`zoo list` as a user sees it in an 80-column terminal."""

from __future__ import annotations

import os
import subprocess
import sys

from zoo.models.registry import BUILTIN_MODELS


def test_list_shows_every_name_and_size_uncut_at_80_columns() -> None:
    env = {**os.environ, "COLUMNS": "80"}
    out = subprocess.run(
        [sys.executable, "-m", "zoo", "list"], capture_output=True, text=True, check=True, env=env
    ).stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    for info in BUILTIN_MODELS:
        row = next(line for line in lines if line.split()[:1] == [info.name])
        assert info.class_name in row.split() and f"{info.num_params:,}" in row.split()
