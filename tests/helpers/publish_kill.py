"""Run a real `zoo publish` and SIGKILL it at one of its file-system steps.

    python publish_kill.py [--log FILE] [--kill-at N | --kill-at commit | --kill-at after-commit]
                           -- ARGS...

runs `zoo ARGS...` (`zoo.cli.main`) with every `os.replace`, `os.rename`, `os.unlink`,
`os.remove` and `os.fsync` counted as one step: the calls through which a writer changes what
a folder holds and makes it durable. Each step is appended to FILE as one JSON line
(`{"n": 1, "op": "replace", "args": [...]}`) before it happens. `--kill-at N` sends the process
a real SIGKILL instead of doing its Nth step; `commit` kills it instead of the rename onto the
table (`published.json`), `after-commit` at the first step after that rename. The test points
PYTHONPATH at a copy of the checkout, so the `zoo` imported is the copy's.

Module-level helpers (`checkout_copy`, ...) are for the tests that drive this script.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

STEPS = ("replace", "rename", "unlink", "remove", "fsync")
TABLE_NAME = "published.json"
REPOSITORY = Path(__file__).resolve().parents[2]


def _is_commit(step: dict[str, Any]) -> bool:
    return step["op"] in ("replace", "rename") and step["args"][1].endswith(f"/{TABLE_NAME}")


def _killer(kill_at: str | None) -> Callable[[dict[str, Any]], bool]:
    committed = False

    def should_kill(step: dict[str, Any]) -> bool:
        nonlocal committed
        if kill_at is None:
            return False
        if kill_at == "commit":
            return _is_commit(step)
        if kill_at == "after-commit":
            if committed:
                return True
            committed = _is_commit(step)
            return False
        return step["n"] == int(kill_at)

    return should_kill


def _count_steps(log: Path | None, should_kill: Callable[[dict[str, Any]], bool]) -> None:
    count = 0
    for name in STEPS:
        original = getattr(os, name)

        def step(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            nonlocal count
            count += 1
            shown = [os.fspath(a) if isinstance(a, (str, Path)) else repr(a) for a in args]
            record = {"n": count, "op": _name, "args": shown}
            if log is not None:
                with open(log, "a", encoding="utf-8") as out:
                    out.write(json.dumps(record) + "\n")
            if should_kill(record):
                os.kill(os.getpid(), signal.SIGKILL)
            return _original(*args, **kwargs)

        setattr(os, name, step)


def main() -> int:
    """Install the step counter, then run the `zoo` command after `--`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", type=Path, default=None)
    parser.add_argument("--kill-at", default=None)
    parser.add_argument("zoo_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    # This folder holds helper modules (wheel.py, cli.py, ...) that must not shadow packages.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    zoo_args = args.zoo_args[1:] if args.zoo_args[:1] == ["--"] else args.zoo_args
    import zoo.weights.publish  # noqa: F401  (torch, Lightning: their imports are no steps)
    from zoo.cli import main as zoo_main  # imported first: only the publish's steps count

    _count_steps(args.log, _killer(args.kill_at))
    return zoo_main(zoo_args)


# --- for the tests -----------------------------------------------------------------------------


def checkout_copy(target: Path, keys: list[str]) -> Path:
    """A copy of the source checkout (`pyproject.toml` and `zoo/`) at `target` whose table holds
    only the bundled weights `keys`, with their files, plots and cards; returns `target`."""
    ignore = shutil.ignore_patterns("__pycache__", "published", "published.json")
    shutil.copytree(REPOSITORY / "zoo", target / "zoo", ignore=ignore)
    shutil.copy2(REPOSITORY / "pyproject.toml", target)
    table = json.loads((REPOSITORY / "zoo/weights" / TABLE_NAME).read_text(encoding="utf-8"))
    table["weights"] = {key: table["weights"][key] for key in keys}
    table["defaults"] = {m: t for m, t in table["defaults"].items() if f"{m}.{t}" in keys}
    text = json.dumps(table, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (target / "zoo/weights" / TABLE_NAME).write_text(text, encoding="utf-8")
    files = target / "zoo/weights/published"
    files.mkdir()
    for key in keys:
        for path in (REPOSITORY / "zoo/weights/published").glob(f"{key}.*"):
            shutil.copy2(path, files)
    return target


def environment(checkout: Path) -> dict[str, str]:
    """The environment of a `zoo` run that imports the copy at `checkout`, writing no bytecode
    (its renames would be steps too)."""
    env = dict(os.environ, PYTHONPATH=str(checkout), PYTHONDONTWRITEBYTECODE="1")
    env.pop("ZOO_DEBUG", None)
    return env


def read_steps(log: Path) -> list[dict[str, Any]]:
    """The steps a run logged, in order."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


if __name__ == "__main__":
    sys.exit(main())
