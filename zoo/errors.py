"""zoo's faults, and the one line each command prints for them.

Every error zoo raises on purpose derives from `ZooError`: `BadInput` for what the user gave
(exit status 2), `RunFailed` for a run that could not finish (1). `fault_line` also turns the
expected faults of the world outside zoo (a full disk, a read-only folder, a missing file) into
one line; anything else is a bug, and `zoo.cli` lets its traceback show. A leaf: imports nothing
from zoo, so any package may raise these.
"""

from __future__ import annotations

import errno

EXIT_BAD_INPUT = 2
EXIT_RUN_FAILED = 1
EXIT_INTERRUPTED = 130  # what a shell reports for a process ended by SIGINT


class ZooError(Exception):
    """A fault zoo explains: `what` is wrong and, after a dash, how to `fix` it."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, what: str, fix: str = "") -> None:
        super().__init__(f"{what} — {fix}" if fix else what)
        self.what = what
        self.fix = fix

    def __str__(self) -> str:
        # The message itself, also where a subclass is a KeyError (which would quote it).
        return str(self.args[0])


class BadInput(ZooError, ValueError):
    """An argument, file or setting the user gave cannot be used (exit status 2)."""


class RunFailed(ZooError, RuntimeError):
    """A run started but could not finish (exit status 1)."""

    exit_code = EXIT_RUN_FAILED


# errno → how to fix it; the OS's own words say what is wrong.
_OS_FIXES = {
    errno.ENOSPC: "free some space or write somewhere else",
    errno.EDQUOT: "free some space or write somewhere else",
    errno.EROFS: "give a folder on a writable file system",
    errno.EACCES: "check its permissions, or give another path",
    errno.EPERM: "check its permissions, or give another path",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "give a file, not a folder",
    errno.EEXIST: "remove it or choose another name",
    errno.ELOOP: "the path is a loop of symbolic links: check the links",
    errno.ENAMETOOLONG: "give a shorter path",
    errno.EMFILE: "too many open files: raise `ulimit -n`",
}


def fault_line(error: BaseException) -> tuple[str, int] | None:
    """The one line and exit status for an expected fault; None for a bug (show the traceback)."""
    if isinstance(error, ZooError):
        return str(error), error.exit_code
    if isinstance(error, OSError) and error.errno in _OS_FIXES:
        where = f": {error.filename}" if error.filename else ""
        reason = error.strerror or errno.errorcode.get(error.errno, "OS error")
        exit_code = EXIT_BAD_INPUT if error.errno in _BAD_PATHS else EXIT_RUN_FAILED
        return f"{reason}{where} — {_OS_FIXES[error.errno]}", exit_code
    if isinstance(error, MemoryError):
        return "out of memory — use a smaller batch size or model", EXIT_RUN_FAILED
    if _is_lightning_misconfiguration(error):
        # Lightning's verdict on a setting already names it and says what to change.
        return str(error).strip().splitlines()[0], EXIT_BAD_INPUT
    return None


# Faults of a path the user gave (exit 2); the others (a full disk) fail a run that was fine (1).
_BAD_PATHS = {
    errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ELOOP, errno.EROFS,
    errno.EACCES, errno.EPERM, errno.ENAMETOOLONG,
}  # fmt: skip


def _is_lightning_misconfiguration(error: BaseException) -> bool:
    # By name, so that the boundary of a command that never loaded Lightning does not load it.
    return any(cls.__name__ == "MisconfigurationException" for cls in type(error).__mro__)
