"""File-access log for the distributed tests: every process of a run records what it touched.

Python imports `sitecustomize` at start-up from PYTHONPATH, so with this folder there and
`ZOO_PROBE_DIR` set, each process (the launcher's children and torchrun's workers inherit the
environment) appends to `$ZOO_PROBE_DIR/files-<pid>.jsonl` one line per:

* `open` of an MNIST IDX file (`*-ubyte`) for reading, and of any file for writing;
* `os.rename`/`os.replace` (how unpacked data and checkpoints are put in place).

It only observes, through a CPython audit hook; it changes nothing the process does.
"""

from __future__ import annotations

import json
import os
import sys
import time

_folder = os.environ.get("ZOO_PROBE_DIR")
_busy = False
_log = None


def _record(kind: str, path: object, mode: object = None) -> None:
    global _log
    if _log is None:
        os.makedirs(_folder, exist_ok=True)
        _log = open(os.path.join(_folder, f"files-{os.getpid()}.jsonl"), "a", buffering=1)  # noqa: SIM115
    entry = {"pid": os.getpid(), "t": time.time_ns(), "kind": kind, "path": str(path), "mode": mode}
    _log.write(json.dumps(entry) + "\n")


def _writes(mode: object, flags: object) -> bool:
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & (os.O_WRONLY | os.O_RDWR))


def _hook(event: str, args: tuple) -> None:
    global _busy
    if _busy or event not in ("open", "os.rename"):
        return
    _busy = True
    try:
        if event == "os.rename":
            _record("rename", f"{args[0]} -> {args[1]}")
        elif isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.fsdecode(args[0])
            if _writes(args[1], args[2]):
                _record("write", path, args[1])
            elif path.endswith("-ubyte"):
                _record("read", path, args[1])
    finally:
        _busy = False


if _folder:
    sys.addaudithook(_hook)
