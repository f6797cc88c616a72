"""`python -m zoo.weights.calibrate`: temperatures for published weights, without retraining."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from zoo.hub import load_pretrained
from zoo.weights import WeightError, WeightTable, default_table, render_card
from zoo.weights.calibrate import main, recalibrate
from zoo.weights.calibration import NO_HELD_OUT_REASON, REGRESSION_REASON

SHIPPED = default_table()
KEYS = [
    "multifeature_mlp.breast_cancer_v1",
    "logistic_regression.toy_v1",
    "linear_regression.toy_v1",
]


@pytest.fixture
def table(tmp_path: Path) -> WeightTable:
    """A copy of the shipped table with the three small weights, calibrations removed."""
    data = SHIPPED.to_dict()
    data["weights"] = {key: data["weights"][key] for key in KEYS}
    data["defaults"] = {k: v for k, v in data["defaults"].items() if f"{k}.{v}" in KEYS}
    for entry in data["weights"].values():
        entry.pop("calibration", None)
    files = tmp_path / "published"
    files.mkdir()
    for key in KEYS:
        shutil.copy2(SHIPPED.file_path(SHIPPED.get(key)), files)
    path = tmp_path / "published.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return WeightTable(path, files)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_recalibrating_reproduces_the_shipped_entries(table: WeightTable) -> None:
    weights_before = {key: table.file_path(table.get(key)).read_bytes() for key in KEYS}
    stale = table.reliability_path(table.get("logistic_regression.toy_v1"))
    stale.write_bytes(b"an old diagram")
    outcomes = recalibrate(table=table)
    assert [o.weight.key for o in outcomes] == sorted(KEYS)
    reread = WeightTable(table.table_path, table.files_dir)
    key = "multifeature_mlp.breast_cancer_v1"
    got, shipped = reread.get(key).calibration, SHIPPED.get(key).calibration
    assert got.temperature == pytest.approx(shipped.temperature, rel=1e-4)
    assert got.ece_after == pytest.approx(shipped.ece_after, abs=1e-4)
    assert got.split_sha256 == shipped.split_sha256 and got.samples == shipped.samples
    # The safetensors files are the trained weights, untouched; the temperature is in the table.
    for k in KEYS:
        assert table.file_path(table.get(k)).read_bytes() == weights_before[k]
    assert load_pretrained("multifeature_mlp", table=reread).temperature == got.temperature
    # Diagrams for the calibrated weight only; every card regenerated from the new table.
    assert table.reliability_path(reread.get(key)).read_bytes()[:4] == b"\x89PNG"
    assert not stale.exists()
    for weight in reread.weights():
        assert table.card_path(weight).read_text(encoding="utf-8") == render_card(weight, reread)
    reasons = {o.weight.key: o.reason for o in outcomes}
    assert reasons == {
        key: None,
        "logistic_regression.toy_v1": NO_HELD_OUT_REASON,
        "linear_regression.toy_v1": REGRESSION_REASON,
    }
    assert "fitted on 57 validation samples" in outcomes[2].describe()


def test_a_dry_run_writes_nothing(table: WeightTable) -> None:
    before = snapshot(table.files_dir.parent)
    (outcome,) = recalibrate(["multifeature_mlp"], table=table, write=False)
    assert outcome.weight.calibration is not None and outcome.diagram is not None
    assert snapshot(table.files_dir.parent) == before


def test_a_weight_that_no_longer_reproduces_stops_everything(table: WeightTable) -> None:
    data = json.loads(table.table_path.read_text(encoding="utf-8"))
    data["weights"]["multifeature_mlp.breast_cancer_v1"]["metrics"]["correct"] = 110
    table.table_path.write_text(json.dumps(data), encoding="utf-8")
    table.reload()
    before = snapshot(table.files_dir.parent)
    with pytest.raises(WeightError, match=r"111 test samples correct, the table records 110"):
        recalibrate(table=table)
    assert snapshot(table.files_dir.parent) == before


def test_the_command_prints_one_line_per_weight(capsys) -> None:
    before = SHIPPED.table_path.read_bytes()
    assert main(["--dry-run", "multifeature_mlp", "linear_regression"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("multifeature_mlp.breast_cancer_v1: T = 0.8066")
    assert "ECE 4.52 % → 1.67 %" in out[0] and "test accuracy 97.37 % (unchanged)" in out[0]
    assert out[1] == f"linear_regression.toy_v1: no temperature: {REGRESSION_REASON}"
    assert SHIPPED.table_path.read_bytes() == before
    assert main(["--dry-run", "linear_regression.v9"]) == 2
    assert "unknown tag 'v9'" in capsys.readouterr().err


def test_the_command_names_an_unknown_model_in_one_line(capsys) -> None:
    assert main(["--dry-run", "resnet.v1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "python -m zoo.weights.calibrate: unknown model 'resnet' in 'resnet.v1' — models with "
        "published weights: "
    )
    assert err.count("\n") == 1
