"""A damaged bundled weight file is refused with one line naming it and how to get it back,
wherever weights are loaded: `load_weight`, `from_pretrained`, `zoo eval`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import zoo
import zoo.hub
import zoo.weights.store
import zoo.weights.table
from zoo.cli import main
from zoo.hub import load_weight
from zoo.weights import WeightError, WeightTable, default_table
from zoo.weights.store import REINSTALL

KEY = "logistic_regression.toy_v1"
SHIPPED = default_table()


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "flipped-byte":
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")


@pytest.fixture(params=["flipped-byte", "truncated", "empty"])
def damaged(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[WeightTable, Path]:
    """A copy of the bundled table and files, standing in for the installed ones, one of whose
    weight files is damaged."""
    files = tmp_path / "published"
    files.mkdir()
    weight = SHIPPED.get(KEY)
    shutil.copy2(SHIPPED.file_path(weight), files)
    data = SHIPPED.to_dict()
    data["weights"] = {KEY: data["weights"][KEY]}
    data["defaults"] = {"logistic_regression": "toy_v1"}
    (tmp_path / "published.json").write_text(json.dumps(data), encoding="utf-8")
    table = WeightTable(tmp_path / "published.json", files)
    monkeypatch.setattr(zoo.weights.store, "bundled_files_dir", lambda: files.resolve())
    monkeypatch.setattr(zoo.hub, "_default_table", lambda: table)
    monkeypatch.setattr(zoo.weights.table, "default_table", lambda: table)
    damage(files / weight.file, request.param)
    return table, files / weight.file


def assert_one_line(message: str, path: Path) -> None:
    assert "\n" not in message
    assert message.startswith(f"{path} has ")
    assert "the file is truncated, corrupted or another weight" in message
    assert message.endswith(f" — {REINSTALL}")


def test_load_weight_names_the_file_and_the_fix(damaged) -> None:
    table, path = damaged
    with pytest.raises(WeightError) as info:
        load_weight(table.get(KEY), table, download=False)
    assert_one_line(str(info.value), path)


def test_from_pretrained_names_the_file_and_the_fix(damaged) -> None:
    _, path = damaged
    with pytest.raises(WeightError) as info:
        zoo.LogisticRegression.from_pretrained()
    assert_one_line(str(info.value), path)


def test_zoo_eval_prints_one_line(damaged, capsys) -> None:
    _, path = damaged
    assert main(["eval", KEY]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zoo eval: ") and err.count("\n") == 1
    assert_one_line(err.removeprefix("zoo eval: ").rstrip("\n"), path)


def test_a_damaged_file_of_another_folder_says_to_publish_it_again(tmp_path: Path) -> None:
    files = tmp_path / "files"
    shutil.copytree(SHIPPED.files_dir, files)
    weight = SHIPPED.get(KEY)
    damage(files / weight.file, "flipped-byte")
    table = WeightTable(SHIPPED.table_path, files)
    with pytest.raises(WeightError, match=rf" — publish {KEY} again into {files}, or restore"):
        load_weight(weight, table, download=False)
