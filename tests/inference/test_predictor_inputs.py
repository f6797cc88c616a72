"""`Predictor.prepare` and `Predictor.probabilities` on what Python callers hand them: arrays,
empty images, float and NaN batches; and Pillow's bomb warning, which zoo's own error replaces."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
import torch
from helpers.image_bytes import png_header_only
from helpers.image_files import as_photo
from PIL import Image

from zoo.inference.imaging import ImageError, read_image
from zoo.inference.predict import Predictor


@pytest.fixture
def photo(digits) -> Image.Image:
    """A real MNIST digit as a grey 240×240 photo, dark ink on paper."""
    return as_photo(digits[0][0])


@pytest.mark.parametrize(
    "to_array",
    [
        np.asarray,
        lambda image: np.asarray(image)[..., None],
        lambda image: np.asarray(image.convert("RGB")),
        lambda image: np.asarray(image.convert("RGBA")),
    ],
    ids=["HxW", "HxWx1", "HxWx3", "HxWx4"],
)
def test_uint8_arrays_are_prepared_like_the_image(photo, resnet: Predictor, to_array) -> None:
    assert np.array_equal(resnet.prepare(to_array(photo)), resnet.prepare(photo))


@pytest.mark.parametrize(
    ("array", "says"),
    [
        (np.zeros((30, 30), np.float64), "cannot use a float64 array shaped (30, 30)"),
        (np.zeros((30, 30, 2), np.uint8), "shaped (30, 30, 2)"),
        (np.zeros(30, np.uint8), "shaped (30,)"),
        (np.zeros((0, 5), np.uint8), "the image has no pixels (5×0)"),
    ],
    ids=["float", "two-channels", "1-d", "empty"],
)
def test_other_arrays_get_one_line_saying_what_to_pass(
    array: np.ndarray, says: str, resnet: Predictor
) -> None:
    with pytest.raises(ImageError) as error:
        resnet.prepare(array)
    assert says in str(error.value) and "\n" not in str(error.value)
    if "cannot use" in says:
        assert "pass uint8 pixels shaped (H, W) or (H, W, C)" in str(error.value)


@pytest.mark.parametrize("size", [(0, 0), (0, 7), (7, 0)])
def test_an_image_without_pixels_is_an_image_error(size: tuple[int, int], resnet) -> None:
    with pytest.raises(ImageError, match=f"no pixels \\({size[0]}×{size[1]}\\)"):
        resnet.prepare(Image.new("L", size))


def test_a_path_is_refused_with_the_way_to_read_it(resnet: Predictor) -> None:
    with pytest.raises(ImageError, match=r"prepare\(read_image\(path\)\)"):
        resnet.prepare("digit.png")


def test_float_pixels_give_the_probabilities_of_the_same_uint8_pixels(photo, resnet) -> None:
    pixels = np.stack([resnet.prepare(photo)] * 2)
    expected = resnet.probabilities(pixels)
    for dtype in (np.float64, np.float32, np.int64, np.uint16):
        assert torch.allclose(resnet.probabilities(pixels.astype(dtype)), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("fill", "says"),
    [
        (np.nan, "NaN or infinite"),
        (np.inf, "NaN or infinite"),
        (-1.0, "range from -1 to"),
        (256.0, "to 256, not 0-255"),
    ],
)
def test_nan_and_out_of_range_pixels_are_refused(photo, resnet, fill: float, says: str) -> None:
    pixels = np.stack([resnet.prepare(photo)] * 3).astype(np.float64)
    pixels[1, 3, 4] = fill
    with pytest.raises(ImageError, match=says):
        resnet.probabilities(pixels)


@pytest.mark.parametrize("shape", [(28, 28), (2, 32, 32), (2, 1, 28, 28)])
def test_batches_of_the_wrong_shape_are_refused(shape: tuple[int, ...], resnet) -> None:
    with pytest.raises(ImageError, match=r"pass uint8 pixels shaped \(N, 28, 28\)"):
        resnet.probabilities(np.zeros(shape, np.uint8))


def test_pillows_bomb_warning_is_not_printed_before_zoos_error() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageError, match="over the 64,000,000-pixel limit"):
            read_image(png_header_only(10_000, 10_000))  # over Pillow's warning limit too
    assert [str(w.message) for w in caught] == []


def test_a_palette_image_with_transparency_bytes_prepares_without_warnings(resnet) -> None:
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgba).convert("P").save(buffer, format="PNG", transparency=bytes(range(256)))
    image = read_image(buffer.getvalue())
    assert image.mode == "P" and isinstance(image.info["transparency"], bytes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.suppress(ImageError):  # noise may hold no digit; no warning either way
            resnet.prepare(image)
    assert [str(w.message) for w in caught] == []
