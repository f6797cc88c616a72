"""`zoo.inference.predict`: published weights on files, directories and globs, in batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.image_files import as_photo, write_variant
from PIL import Image

from zoo.data import FashionMNISTDataModule
from zoo.inference.imaging import read_image
from zoo.inference.predict import Predictor, expand_sources, predict_files
from zoo.weights.table import WeightError, default_table


@pytest.fixture
def folder(digits, tmp_path: Path) -> tuple[Path, list[int]]:
    """Twelve real digits as JPEG/PNG/WebP files plus three unusable files, sorted by name."""
    images, labels = digits
    variants = ["rgb-jpeg", "grey-png", "rgb-webp"]
    for i in range(12):
        write_variant(images[i], variants[i % 3], tmp_path / f"digit{i:02d}")
    (tmp_path / "digit12.png").write_bytes(b"not an image at all")
    (tmp_path / "digit13.jpg").write_bytes(b"")
    Image.new("L", (64, 64), 255).save(tmp_path / "digit14.bmp")  # blank paper
    (tmp_path / "notes.txt").write_text("ignored: not an image suffix")
    return tmp_path, [int(label) for label in labels[:12]]


def test_directory_predictions_and_per_file_errors(folder) -> None:
    path, labels = folder
    results = predict_files("resnet_mnist", [path], top_k=2, batch_size=5)
    assert [Path(r.source).stem for r in results] == [f"digit{i:02d}" for i in range(15)]
    good, bad = results[:12], results[12:]
    assert [r.top[0][0] for r in good] == labels
    assert all(r.error is None and len(r.top) == 2 and r.top[0][2] > r.top[1][2] for r in good)
    assert [r.error for r in bad] == [
        "not a PNG, JPEG, BMP or WebP image",
        "empty file",
        "no digit or object found: the image is blank or has too little contrast",
    ]


def test_batch_size_does_not_change_results(folder) -> None:
    path, _ = folder
    one = predict_files("cnn_mnist", [path], top_k=10, batch_size=1)
    many = predict_files("cnn_mnist", [path], top_k=10, batch_size=256)
    for a, b in zip(one, many, strict=True):
        assert a.error == b.error
        assert [c for c, _, _ in a.top] == [c for c, _, _ in b.top]
        assert np.allclose([p for *_, p in a.top], [p for *_, p in b.top], atol=1e-6)


def test_globs_and_directories_expand(folder, tmp_path: Path) -> None:
    path, _ = folder
    nested = path / "more"
    nested.mkdir()
    (nested / "x.png").write_bytes(b"")
    assert expand_sources([str(path / "*.jpg")]) == [str(p) for p in sorted(path.glob("*.jpg"))]
    assert str(nested / "x.png") in expand_sources([str(path / "**" / "*.png")])
    assert str(nested / "x.png") not in expand_sources([str(path)])
    empty = tmp_path / "empty"
    empty.mkdir()
    results = predict_files("resnet_mnist", [empty, str(path / "*.gif"), path / "gone.png"])
    assert [r.error for r in results] == [
        "no image files (.png, .jpg, .jpeg, .bmp, .webp) in this directory",
        "no files match this pattern",
        "no such file",
    ]


def test_every_published_mnist_model_reads_photos(digits, tmp_path: Path) -> None:
    images, labels = digits
    files = [write_variant(d, "rgb-jpeg", tmp_path / f"{i}") for i, d in enumerate(images)]
    for model in ("softmax_mnist", "cnn_mnist", "inception_mnist", "resnet_mnist"):
        top = [r.top[0][0] for r in predict_files(model, files, top_k=1)]
        assert np.mean(np.array(top) == labels) >= 0.95, model


def test_non_image_and_unknown_models_are_refused() -> None:
    with pytest.raises(WeightError, match="not an image classifier"):
        Predictor.from_pretrained("linear_regression")
    with pytest.raises(KeyError, match="unknown model"):
        Predictor.from_pretrained("resnet_mnst")
    with pytest.raises(WeightError, match="unknown tag"):
        Predictor.from_pretrained("resnet_mnist.v9")


@pytest.mark.skipif(
    not FashionMNISTDataModule.debian_dir.is_dir(),
    reason="Fashion-MNIST not installed: apt-get install dataset-fashion-mnist",
)
def test_fashion_weights_use_fashion_preprocessing(tmp_path: Path) -> None:
    dm = FashionMNISTDataModule(data_dir=tmp_path / "data")
    dm.prepare_data()
    dm.setup()
    images, labels = dm.split_tensors("test")
    files = []
    for i in range(60):
        # A product photo: dark on a white background, larger, not centred.
        files.append(tmp_path / f"product{i}.png")
        as_photo(images[i, 0].numpy(), size=300).convert("RGB").save(files[-1])
    predictor = Predictor.from_pretrained("resnet_mnist.fashion_v1")
    results = list(predictor.predict_files(files, top_k=1))
    predicted = [predictor.categories.index(r.top[0][1]) for r in results]
    assert np.mean(np.array(predicted) == labels[:60].numpy()) >= 0.85


def test_file_probabilities_are_calibrated_with_the_weights_temperature(folder, resnet) -> None:
    path, _ = folder
    files = sorted(path.glob("digit0[0-4].*"))
    results = list(resnet.predict_files(files, top_k=10))
    weight = default_table().get(resnet.key)
    assert resnet.temperature == weight.temperature != 1.0
    images = np.stack([resnet.prepare(read_image(f)) for f in files])
    x = (torch.from_numpy(images).unsqueeze(1).float() / 255.0 - resnet.mean) / resnet.std
    with torch.inference_mode():
        logits = resnet.model(x)
    calibrated = (logits / weight.temperature).softmax(dim=1)
    for result, row, raw in zip(results, calibrated, logits.softmax(dim=1), strict=True):
        got = torch.tensor([p for _, _, p in sorted(result.top)])
        assert torch.allclose(got, row, atol=1e-6)
        assert not torch.allclose(got, raw, atol=1e-4)  # a path ignoring T would fail here
        assert abs(float(got.sum()) - 1) < 1e-5
