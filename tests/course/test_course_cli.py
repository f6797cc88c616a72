"""``zoo course lectureN``: prints the prediction for x = 4 and writes real PNG files."""

import re
from pathlib import Path

import pytest
from helpers.cli import is_png
from helpers.filesystems import small_filesystem

from zoo.cli import main as zoo_main
from zoo.course.cli import course_command as main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PREDICTION = re.compile(r"(\S+): prediction for x = 4: y = (-?\d+\.\d+)")


def run(capsys, *argv):
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def written_plots(out: str) -> list[Path]:
    listing = out.split("plots written:\n", 1)[1]
    return [Path(line.strip()) for line in listing.splitlines() if line.strip()]


def predictions(out: str) -> dict[str, float]:
    return {name: float(value) for name, value in PREDICTION.findall(out)}


def assert_png(path: Path, folder: Path):
    assert path.parent == folder
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 5_000  # an axes with a curve, not an empty canvas


@pytest.mark.parametrize(
    ("lecture", "names", "expected"),
    [
        ("lecture2", ["lecture2_mse_vs_w.png"], {"search": 8.0}),
        ("lecture3", ["lecture3_cost.png", "lecture3_lr_sweep.png"], {"GD": 8.0, "SGD": 8.0}),
        ("lecture4", ["lecture4_loss.png"], {"linear": 8.0}),
    ],
)
def test_lecture_writes_pngs_and_predicts_eight(capsys, tmp_path, lecture, names, expected):
    out = run(capsys, lecture, "--out", str(tmp_path / "plots"))
    plots = written_plots(out)
    assert [p.name for p in plots] == names
    for path in plots:
        assert_png(path, tmp_path / "plots")
    found = predictions(out)
    for name, value in expected.items():
        assert found[name] == pytest.approx(value, abs=0.01)


def test_lecture3_reports_the_divergent_rate(capsys, tmp_path):
    out = run(capsys, "lecture3", "--out", str(tmp_path))
    assert "0.3 DIVERGED" in out
    assert "0.01 ok" in out


def test_lecture4_prints_the_quadratic_fit(capsys, tmp_path):
    out = run(capsys, "lecture4", "--out", str(tmp_path), "--epochs", "50")
    assert "w1 = " in out and "w2 = " in out and "b = " in out
    assert 7.0 < predictions(out)["quadratic"] < 10.0


def test_missing_lecture_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "zoo course" in capsys.readouterr().err


def test_a_full_disk_is_one_line_and_leaves_no_empty_png(capsys, tmp_path) -> None:
    with small_filesystem(tmp_path / "disk", size_kib=40) as disk:
        assert zoo_main(["course", "lecture3", "--out", str(disk / "out")]) == 1
        err = capsys.readouterr().err
        left = sorted((disk / "out").iterdir())
        assert all(is_png(path) for path in left), left  # whole PNGs only, never a 0-byte one
    assert err.startswith("zoo course: No space left on device: ") and err.count("\n") == 1
    assert "free some space" in err
