"""The bundled weights ship in the wheel and load, offline, from an installed copy of it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers.wheel import build_wheel, install_wheel

import zoo
from zoo.hub import load_weight
from zoo.weights import default_table

ROOT = Path(zoo.__file__).resolve().parents[1]

CHECK = """
import json, sys, torch, zoo
from zoo.hub import load_weight
from zoo.weights import default_table
assert zoo.__file__.startswith(sys.argv[1]), zoo.__file__
table = default_table()
assert str(table.files_dir).startswith(sys.argv[1]), table.files_dir
sums = {}
for weight in table.weights():
    model = load_weight(weight, table, download=False)
    total = sum(t.double().sum().item() for t in model.state_dict().values())
    sums[weight.key] = [total, model.temperature]
print(json.dumps(sums))
"""


def test_wheel_lists_every_package_and_the_published_files() -> None:
    # pyproject lists the packages; a folder of modules missing from that list would silently be
    # left out of the wheel, so the list is held against every folder holding a module.
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("needs a source checkout")
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    modules = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "zoo").rglob("*.py")}
    assert modules <= listed  # every folder of modules ships
    data = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "zoo").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    recipes = {
        ".".join(("zoo", *p.parent.relative_to(ROOT).parts)) for p in (ROOT / "recipes").rglob("*")
        if p.is_file()
    }  # fmt: skip
    assert data | recipes <= listed  # every folder of data ships too (as a namespace package)
    assert config["package-dir"] == {"zoo.recipes": "recipes"}
    published = config["package-data"]["zoo.weights.published"]
    assert {"*.safetensors", "*.md", "*.png"} <= set(published)


@pytest.mark.slow
def test_weights_load_from_installed_wheel(tmp_path: Path) -> None:
    if not (ROOT / "pyproject.toml").is_file() or shutil.which("git") is None:
        pytest.skip("needs a git source checkout")
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    wheel = build_wheel(tmp_path / "build")
    table = default_table()
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "zoo/weights/published.json" in names
    published = {f"zoo/weights/published/{w.file}" for w in table.weights()}
    published |= {f"zoo/weights/published/{w.key}.md" for w in table.weights()}
    published |= {
        f"zoo/weights/published/{w.key}.png"
        for w in table.weights()
        if table.curve_path(w).is_file()
    }
    published |= {  # the reliability diagrams of the calibrated weights
        f"zoo/weights/published/{w.key}.reliability.png"
        for w in table.weights()
        if w.calibration is not None
    }
    assert published <= names
    install_wheel(wheel, site)
    env = {**os.environ, "PYTHONPATH": str(site), "TORCH_HOME": str(tmp_path / "no-downloads")}
    result = subprocess.run(
        [sys.executable, "-c", CHECK, str(site)],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    installed = json.loads(result.stdout.strip().splitlines()[-1])
    expected = {
        w.key: [
            sum(t.double().sum().item() for t in load_weight(w, table).state_dict().values()),
            w.temperature,  # the installed table's temperatures reach the models
        ]
        for w in table.weights()
    }
    assert installed == expected
    assert not (tmp_path / "no-downloads").exists()
