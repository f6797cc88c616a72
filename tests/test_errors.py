"""The one error boundary of every `zoo` command (`zoo.cli.main` and `zoo.errors`)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest
from helpers.cli import REPO

import zoo.cli
from zoo.cli import main
from zoo.errors import BadInput, RunFailed, fault_line


def test_zoos_errors_say_what_and_how_to_fix_it() -> None:
    assert fault_line(BadInput("--top-k 0 is not a count", "give 1 or more")) == (
        "--top-k 0 is not a count — give 1 or more", 2)  # fmt: skip
    assert fault_line(RunFailed("training diverged")) == ("training diverged", 1)


def test_expected_os_faults_are_one_line() -> None:
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "runs/x/last.ckpt")
    line, status = fault_line(full)
    assert status == 1
    assert line == (
        "No space left on device: runs/x/last.ckpt — free some space or write somewhere else"
    )
    read_only = OSError(errno.EROFS, os.strerror(errno.EROFS), "/mnt/ro")
    assert fault_line(read_only)[1] == 2  # the user's choice of folder: bad input


def test_a_bug_is_not_dressed_up_as_a_fault() -> None:
    assert fault_line(KeyError("state_dict")) is None
    assert fault_line(OSError(errno.EIO, "Input/output error")) is None


def _buggy_command(argv: list[str]) -> int:
    return {"a": 1}[argv[0]]


def _interrupted_command(argv: list[str]) -> int:
    raise KeyboardInterrupt


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(zoo.cli.COMMANDS, "buggy", (f"{__name__}:_buggy_command", "a bug"))
    with pytest.raises(KeyError):
        main(["buggy", "b"])


def test_ctrl_c_is_one_line_and_130(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setitem(zoo.cli.COMMANDS, "wait", (f"{__name__}:_interrupted_command", "waits"))
    assert main(["wait"]) == 130
    assert capsys.readouterr().err == "zoo wait: interrupted\n"


def test_a_fault_is_one_line_naming_the_command(capsys) -> None:
    assert main(["recipes", "show", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo recipes: no recipe 'nosuch'") and err.count("\n") == 1


@pytest.mark.parametrize("how", ["--debug", "ZOO_DEBUG=1"])
def test_debug_shows_the_traceback_too(how: str) -> None:
    flag = [how] if how == "--debug" else []
    env = {**os.environ, "ZOO_DEBUG": "1"} if how != "--debug" else dict(os.environ)
    command = [sys.executable, "-m", "zoo", *flag, "recipes", "show", "nosuch"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback (most recent call last)" in done.stderr and "RecipeError" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("zoo recipes: no recipe 'nosuch'")
