"""Old module paths that saved configs and scripts still name, mapped to where the code lives now.

A run's `config.yaml` records class paths such as `zoo.lightning_cli.WandbLogger`; the layout
moved those modules into `zoo.training` and `zoo.inference`. Importing an old path gives the new
module itself (not a copy), so `isinstance` checks and monkeypatches keep meaning one thing.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

MOVED_MODULES = {
    "zoo.lightning_cli": "zoo.training.lightning_cli",
    "zoo.callbacks": "zoo.training.callbacks",
    "zoo.slurm": "zoo.training.slurm",
    "zoo.allocator": "zoo.training.allocator",
    "zoo.demo": "zoo.training.demo",
    "zoo.plots": "zoo.training.figures",
    "zoo.imaging": "zoo.inference.imaging",
    "zoo.predict": "zoo.inference.predict",
    "zoo.predict_cli": "zoo.inference.cli",
    "zoo.export": "zoo.inference.export",
    "zoo.export_cli": "zoo.inference.cli",
}


class _MovedModuleLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} moved to {self.target}; update the import or class_path",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was imported under its new name."""


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED_MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, _MovedModuleLoader(MOVED_MODULES[fullname]))


def install() -> None:
    """Let the old paths import (idempotent)."""
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
