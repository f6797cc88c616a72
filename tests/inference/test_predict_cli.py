"""`zoo predict MODEL FILES…`: text and JSON output, exit codes, and the recipe form."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from helpers.image_files import write_variant

from zoo.cli import main
from zoo.weights import default_table

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def files(digits, tmp_path: Path) -> tuple[list[str], list[int]]:
    """Three real digits as JPEG files and their labels."""
    images, labels = digits
    paths = [str(write_variant(images[i], "rgb-jpeg", tmp_path / f"d{i}")) for i in range(3)]
    return paths, [int(label) for label in labels[:3]]


def test_text_output_one_line_per_file(files, capsys) -> None:
    paths, labels = files
    assert main(["predict", "resnet_mnist", *paths, "-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for line, path, label in zip(lines, paths, labels, strict=True):
        name, ranked = line.split(": ")
        assert name == path and ranked.split()[0] == str(label) and ranked.count("%") == 2


def test_json_output_with_a_bad_file(files, tmp_path: Path, capsys) -> None:
    paths, labels = files
    bad = tmp_path / "bad.png"
    bad.write_text("<svg/>")
    assert main(["predict", "inception_mnist", paths[0], str(bad), paths[1], "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["model"] == "inception_mnist.mnist_v1"
    weight = default_table().get("inception_mnist.mnist_v1")
    assert document["temperature"] == weight.temperature != 1.0  # calibrated probabilities
    first, broken, second = document["results"]
    assert first["top"][0]["class"] == labels[0] and second["top"][0]["label"] == str(labels[1])
    assert len(first["top"]) == 3 and first["error"] is None
    assert broken == {"file": str(bad), "top": [], "error": "not a PNG, JPEG, BMP or WebP image"}


def test_errors_go_to_stderr_and_others_still_print(files, capsys) -> None:
    paths, _ = files
    assert main(["predict", "cnn_mnist", "missing.png", paths[2]]) == 1
    out, err = capsys.readouterr()
    assert out.startswith(paths[2] + ": ")
    assert err.strip() == "missing.png: error: no such file"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["resnet_mnst", "x.png"], "zoo predict: MODEL: unknown model 'resnet_mnst' — choose"),
        (["resnet_mnist.v7", "x.png"], "zoo predict: unknown tag 'v7' for resnet_mnist"),
        (["linear_regression", "x.png"], "zoo predict: linear_regression.toy_v1 is not an image"),
    ],
)
def test_bad_models_exit_2_with_one_line(argv: list[str], message: str, capsys) -> None:
    assert main(["predict", *argv]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(message) and err.count("\n") == 1 and out == ""


@pytest.mark.parametrize("option", ["-k", "--batch-size"])
@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_bad_counts_are_usage_errors_naming_the_option(option: str, value: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "resnet_mnist", "x.png", option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: zoo predict" in err and f"argument {option}" in err.replace("-k/--top-k", "-k")


def test_config_form_still_runs_lightning_predict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["zoo"])
    recipe = str(REPO / "recipes" / "cnn_mnist.yaml")
    argv = ["predict", "--config", recipe, "--trainer.limit_predict_batches=1"]
    argv += ["--trainer.logger=false", f"--trainer.default_root_dir={tmp_path}"]
    assert main(argv) == 0
    assert (tmp_path / "predict_config.yaml").is_file()
