"""Lazy package attributes (PEP 562): `import zoo` costs nothing until a name is used.

torch alone takes seconds to import, and Lightning more; a package `__init__` that imported its
modules eagerly would make `zoo --help` wait for both.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_attributes(
    package: str, origins: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, importing `name` from `origins[name]` on use."""

    def __getattr__(name: str) -> Any:
        if name not in origins:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(origins[name]), name)

    def __dir__() -> list[str]:
        return sorted(origins)

    return __getattr__, __dir__
