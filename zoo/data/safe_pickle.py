"""Reading pickles this project did not write, without letting them run code.

`pickle.load` imports and calls whatever the file names, so a crafted file runs arbitrary code
the moment it is read. `RestrictedUnpickler` resolves only the globals of an explicit allow-list
and refuses everything else before anything is imported. `NUMPY_ARRAY_GLOBALS` is the list that
a pickle of plain containers and numpy arrays needs, such as the CIFAR-10 "python version"
batches (Python 2 pickles, protocol 2).
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


class RefusedGlobalError(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list; nothing of it was imported or called."""


def _numpy_reconstruct() -> Any:
    # numpy 2 moved `numpy.core` to `numpy._core`; importing the old name only warns, so prefer
    # the new one and fall back for numpy 1.x.
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(module)._reconstruct
        except (ImportError, AttributeError):
            continue
    raise ImportError("numpy provides no multiarray._reconstruct; is numpy installed correctly?")


def _latin1_bytes(text: Any, encoding: Any) -> bytes:
    """Stand-in for `_codecs.encode`, which Python 3 uses to spell `bytes` at protocol ≤ 2.

    Only the one call pickle itself writes, `encode(text, "latin1")`, is honoured.
    """
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(
            f"refused _codecs.encode({type(text).__name__}, {encoding!r}): pickles only use it "
            "as encode(str, 'latin1') to store bytes"
        )
    return text.encode("latin1")


def _empty_bytes() -> bytes:
    """Stand-in for `bytes()`, which Python 3 uses to spell `b""` at protocol ≤ 2."""
    return b""


def _numpy_array_globals() -> dict[tuple[str, str], Any]:
    reconstruct = _numpy_reconstruct()
    allowed: dict[tuple[str, str], Any] = {
        ("_codecs", "encode"): _latin1_bytes,
        ("__builtin__", "bytes"): _empty_bytes,
        ("builtins", "bytes"): _empty_bytes,
    }
    # numpy 1.x writes `numpy.core.multiarray`, numpy 2.x `numpy._core.multiarray`; ndarray and
    # dtype normally appear under `numpy`. All names map to the objects, never to an import.
    for module in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[module, "ndarray"] = np.ndarray
        allowed[module, "dtype"] = np.dtype
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[module, "_reconstruct"] = reconstruct
    return allowed


NUMPY_ARRAY_GLOBALS: Mapping[tuple[str, str], Any] = _numpy_array_globals()


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only `(module, name)` pairs found in `allowed`.

    Every global a pickle references (callables, classes, extension codes) passes through
    `find_class`, so refusing there means a malicious file fails before any of its code runs.

    Args:
        file: a binary file object positioned at the start of the pickle.
        allowed: maps `(module, name)` as written in the pickle to the object to use.
        encoding: how Python 2 `str` objects are decoded; "bytes" keeps them as bytes.
    """

    def __init__(
        self,
        file: BinaryIO,
        allowed: Mapping[tuple[str, str], Any] = NUMPY_ARRAY_GLOBALS,
        encoding: str = "bytes",
    ) -> None:
        super().__init__(file, encoding=encoding)
        self.allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        """The allow-listed object for `module.name`; anything else raises `RefusedGlobalError`."""
        try:
            return self.allowed[module, name]
        except KeyError:
            raise RefusedGlobalError(
                f"refused to load the global {module}.{name}: it is not on the allow-list of "
                "this reader, so the file is either of another kind, corrupt, or malicious"
            ) from None


def load_restricted(
    path: str | Path,
    allowed: Mapping[tuple[str, str], Any] = NUMPY_ARRAY_GLOBALS,
    encoding: str = "bytes",
) -> Any:
    """Unpickle `path` with `RestrictedUnpickler`: containers, numbers, strings, numpy arrays.

    Raises `RefusedGlobalError` for a file that references anything else, and whatever pickle
    raises (`UnpicklingError`, `EOFError`, …) for a truncated or corrupt one.
    """
    with open(path, "rb") as file:
        return RestrictedUnpickler(file, allowed, encoding).load()
