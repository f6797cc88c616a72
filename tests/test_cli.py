"""The `zoo` dispatcher: help, version, unknown commands, and a reader that goes away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tomllib

import zoo
from zoo.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]


def test_no_arguments_prints_the_short_help(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: zoo [--debug] COMMAND")
    assert all(f"  {name} " in out for name in COMMANDS)


def test_version_is_written_once(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"zoo {zoo.__version__}\n"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and project["dynamic"] == ["version"]


def test_unknown_command_is_a_usage_error(capsys) -> None:
    assert main(["fitt"]) == 2
    assert "unknown command 'fitt'" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before zoo writes a byte, like `zoo list | true`
    try:
        done = subprocess.run(
            [sys.executable, "-m", "zoo", "recipes"], stdout=write_end, stderr=subprocess.PIPE,
            timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert done.returncode == 141
    assert b"Traceback" not in done.stderr and b"BrokenPipeError" not in done.stderr
