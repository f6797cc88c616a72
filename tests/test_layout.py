"""The package layout holds: no import cycle between packages, leaves that stay leaves, a lazy
top level, one command convention, and the old module paths that saved configs name."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import warnings
from collections import defaultdict
from pathlib import Path

import pytest

from zoo.cli import COMMANDS
from zoo.moved import MOVED_MODULES

PACKAGE = Path(__file__).resolve().parents[1] / "zoo"
# `Model.from_pretrained()` reaches zoo.hub lazily: the one documented edge from models upward.
ALLOWED_UPWARD = {("zoo.models", "zoo.hub")}
HEAVY = ("torch", "lightning", "matplotlib", "wandb")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    """The node a module belongs to: its subpackage; `cli` and `__main__` modules stand apart
    (commands sit on top of everything), and top-level modules stand for themselves."""
    parts = module.split(".")
    if len(parts) >= 3 and parts[2] in ("cli", "__main__"):
        return ".".join(parts[:3])
    if len(parts) >= 2 and (PACKAGE / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def _imports(path: Path, module_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else ast.walk(tree)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if node.module == "zoo")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        source = _unit(_module_name(path))
        for name in _imports(path):
            target = _unit(name)
            if (
                name.startswith("zoo.")
                and target != source
                and (source, target) not in ALLOWED_UPWARD
            ):
                edges[source].add(target)
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_packages() -> None:
    edges = _graph()
    assert "zoo.weights" in edges["zoo.hub"] and "zoo.models" in edges["zoo.hub"]
    assert _cycle(edges) is None, " → ".join(_cycle(edges) or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


@pytest.mark.parametrize(
    ("leaf", "may_import"),
    [
        ("models/registry.py", {"zoo.errors"}),
        ("weights/table.py", {"zoo.errors", "zoo.files", "zoo.models.registry"}),
        ("errors.py", set()),
        ("files.py", set()),
        ("lazy.py", set()),
        ("moved.py", set()),
    ],
)
def test_leaves_import_no_model_code(leaf: str, may_import: set[str]) -> None:
    imported = {n for n in _imports(PACKAGE / leaf, module_level_only=True) if n.startswith("zoo")}
    assert imported <= may_import
    assert not {n.split(".")[0] for n in _imports(PACKAGE / leaf)} & set(HEAVY)


def _modules_loaded_by(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True, cwd=PACKAGE.parent,
    )  # fmt: skip
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "code",
    [
        "import zoo",
        "import zoo.models, zoo.weights",
        "from zoo.cli import main; main(['--help'])",
        "from zoo.cli import main; main(['list'])",
    ],
)
def test_the_top_level_and_listing_need_no_torch(code: str) -> None:
    assert not _modules_loaded_by(code) & set(HEAVY)


def test_public_names_resolve_lazily() -> None:
    import zoo

    assert zoo.ResNetMNIST.__module__ == "zoo.models.resnet"
    assert zoo.create_model.__module__ == "zoo.hub"
    assert set(dir(zoo)) >= {"ResNetMNIST", "MNISTDataModule", "list_models"}
    with pytest.raises(AttributeError, match="no attribute 'NoSuchModel'"):
        zoo.NoSuchModel  # noqa: B018


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_lives_in_its_packages_cli_module(name: str) -> None:
    module, _, function = COMMANDS[name][0].partition(":")
    assert module == "zoo.cli" or module.endswith(".cli")
    assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.parametrize(
    ("old", "name"),
    [
        ("zoo.lightning_cli", "WandbLogger"),
        ("zoo.lightning_cli", "CSVLogger"),
        ("zoo.lightning_cli", "ZooCLI"),
        ("zoo.callbacks", "ZooCheckpoint"),
        ("zoo.slurm", "SlurmRequeue"),
        ("zoo.allocator", "keep_freed_memory"),
        ("zoo.predict", "Predictor"),
        ("zoo.imaging", "read_image"),
        ("zoo.export", "export_model"),
    ],
)
def test_old_module_paths_still_import(old: str, name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module(old)
    new = importlib.import_module(MOVED_MODULES[old])
    assert module is new and getattr(module, name) is getattr(new, name)


def test_an_old_path_says_where_it_moved() -> None:
    out = subprocess.run(
        [sys.executable, "-W", "always::DeprecationWarning", "-c", "import zoo.slurm"],
        capture_output=True, text=True, check=True, cwd=PACKAGE.parent,
    )  # fmt: skip
    assert "zoo.slurm moved to zoo.training.slurm" in out.stderr


@pytest.mark.parametrize("package", ["zoo", "zoo.models", "zoo.weights"])
def test_every_lazy_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"


def test_test_modules_have_unique_names() -> None:
    # pytest imports test files by their base name (the test folders are not packages): two
    # `test_faults.py` in different folders stop the whole run at collection.
    names = [p.name for p in (PACKAGE.parent / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
