"""docs/faults.md lists the faults the suite injects; every row names a test that exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "faults.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _rows() -> list[str]:
    lines = TABLE.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.startswith("| ") and not line.startswith("| fault")]


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_row_names_a_test_that_exists() -> None:
    rows = _rows()
    assert len(rows) >= 20
    for row in rows:
        references = REFERENCE.findall(row)
        assert references, f"no test named in: {row}"
        for file, name in references:
            assert (ROOT / file).is_file(), file
            assert name in _test_names(ROOT / file), f"{file} has no {name}"


def test_every_fault_test_file_is_in_the_table() -> None:
    named = {file for row in _rows() for file, _ in REFERENCE.findall(row)}
    fault_files = {str(p.relative_to(ROOT)) for p in ROOT.glob("tests/**/test_*fault*.py")}
    fault_files.discard("tests/test_faults_table.py")
    assert fault_files <= named, fault_files - named
