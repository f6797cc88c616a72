"""`zoo.inference.imaging`: safe reading of any image file and MNIST's own preprocessing."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from helpers.image_bytes import png_header_only
from helpers.image_files import VARIANTS, as_photo, write_variant
from PIL import Image

from zoo.inference.imaging import (
    MAX_FILE_BYTES,
    ImageError,
    digit_28x28,
    light_on_dark,
    product_28x28,
    read_image,
    to_grey,
)
from zoo.inference.predict import Predictor


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_format_and_mode_gives_the_right_digits(
    variant: str, digits, resnet: Predictor, tmp_path: Path
) -> None:
    images, labels = digits
    inputs = []
    for i, digit in enumerate(images):
        path = write_variant(digit, variant, tmp_path / f"{i}")
        inputs.append(resnet.prepare(read_image(path)))
    predicted = resnet.probabilities(np.stack(inputs)).argmax(dim=1).numpy()
    assert (predicted == labels).mean() >= 0.95, (variant, predicted, labels)


def test_preprocessing_reproduces_mnist_geometry(digits) -> None:
    images, _ = digits
    for digit in images[:10]:
        out = digit_28x28(to_grey(as_photo(digit, size=500))).astype(np.float64)
        rows, cols = np.nonzero(out > 0.2 * 255)
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 in (20, 21)
        weights = out / out.sum()
        r, c = np.indices(out.shape)
        centre = ((r + 0.5) * weights).sum(), ((c + 0.5) * weights).sum()
        assert np.allclose(centre, (14, 14), atol=1.0), centre


def test_aspect_ratio_is_kept() -> None:
    page = np.zeros((300, 400), dtype=np.float32)
    page[50:250, 100:120] = 1.0  # a 200 × 20 bar: 10:1
    out = digit_28x28(page)
    rows, cols = np.nonzero(out > 128)
    assert rows.max() - rows.min() + 1 == 20
    assert cols.max() - cols.min() + 1 == 2


def test_dark_on_light_and_light_on_dark_give_the_same_input(digits) -> None:
    grey = to_grey(as_photo(digits[0][3]))
    assert np.array_equal(digit_28x28(grey), digit_28x28(1.0 - grey))


def test_paper_texture_is_not_ink() -> None:
    rng = np.random.default_rng(0)
    paper = 0.85 + 0.05 * rng.standard_normal((100, 100))
    paper[30:70, 45:55] = 0.1
    ink = light_on_dark(np.clip(paper, 0, 1).astype(np.float32))
    assert ink[:20].max() < 0.35 and ink[40, 50] == pytest.approx(1.0, abs=0.05)


def test_fashion_preprocessing_fills_28_pixels() -> None:
    page = np.ones((200, 100), dtype=np.float32)
    page[20:180, 10:90] = 0.2  # a dark product on a white background
    out = product_28x28(page)
    rows = np.flatnonzero((out > 64).any(axis=1))
    assert rows.max() - rows.min() + 1 == 28 and out[0, 0] == 0


def test_transparent_light_strokes_stay_visible() -> None:
    rgba = np.zeros((100, 100, 4), dtype=np.uint8)
    rgba[20:80, 45:55] = (255, 255, 255, 255)  # white strokes on a transparent sheet
    grey = to_grey(Image.fromarray(rgba))
    assert grey[50, 50] == 1.0 and grey[0, 0] == 0.0


def test_exif_orientation_is_applied(digits, resnet: Predictor, tmp_path: Path) -> None:
    images, labels = digits
    stored = as_photo(images[0]).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "phone.jpg"
    stored.save(path, exif=exif)
    probabilities = resnet.probabilities(resnet.prepare(read_image(path))[None])
    assert probabilities.argmax().item() == labels[0]


@pytest.mark.parametrize("side", [9_000, 40_000], ids=["over-zoo-limit", "over-pillow-limit"])
def test_decompression_bombs_are_refused_from_the_header(side: int) -> None:
    with pytest.raises(ImageError, match="decompression bomb"):
        read_image(png_header_only(side, side))


def _png(size: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size), np.uint8)).save(
        buffer, format="PNG"
    )
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"hello, I am text", "not a PNG, JPEG, BMP or WebP image"),
        (_png()[:200], "corrupt or truncated PNG"),
        (b"GIF89a" + b"\0" * 100, "not a PNG, JPEG, BMP or WebP image"),
    ],
    ids=["empty", "text", "truncated", "gif"],
)
def test_unusable_bytes_get_one_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        read_image(data)


def test_oversized_files_are_not_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    with open(path, "wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(ImageError, match="byte limit"):
        read_image(path)


def test_missing_files_and_directories(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="is a directory"):
        read_image(tmp_path)


def test_blank_image_has_no_digit() -> None:
    with pytest.raises(ImageError, match="blank"):
        digit_28x28(np.full((50, 50), 0.9, dtype=np.float32))
