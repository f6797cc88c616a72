"""Property tests of the image reader and the preprocessing behind `zoo predict`.

Whatever bytes a file holds, and whatever small image of whatever mode and size (sides of 0
and 1 pixel included) a format can encode, `read_image` gives an image of the encoded size or
an `ImageError`, and `Predictor.prepare` a uint8 28×28 input or an `ImageError`: never another
exception, never a hang (each test runs under a timeout), and no library warning printed.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from zoo.inference.imaging import ImageError, product_28x28, read_image, to_grey
from zoo.inference.predict import Predictor

# A warning zoo lets through (Pillow's, from a case zoo handles) fails the property too.
pytestmark = pytest.mark.filterwarnings("error")
# Reproducible in CI: the same examples on every run, and none remembered between runs.
BOUNDED = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
MODES = ["1", "L", "P", "LA", "RGB", "RGBA", "CMYK", "I;16", "I", "F"]
# Grey modes deeper than 8 bits, from NumPy arrays of these types (F also outside [0, 1]).
DEEP = {"I;16": np.uint16, "I": np.int32, "F": np.float32}
FORMATS = ["PNG", "BMP", "JPEG", "WEBP"]
LOSSLESS = {"PNG", "BMP"}


def _image(mode: str, width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode in DEEP:
        values = rng.uniform(-0.5, 1.5, (height, width)) if mode == "F" else (
            rng.integers(0, 65536, (height, width)))  # fmt: skip
        array = values.astype(DEEP[mode])
    else:  # random colours and transparency, converted to the mode as Pillow converts
        array = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    # NumPy cannot hand Pillow an array without pixels: an empty image is made directly.
    image = Image.fromarray(array) if array.size else Image.new(
        mode if mode in DEEP else "RGBA", (width, height))  # fmt: skip
    return image if mode in DEEP else image.convert(mode)


@st.composite
def images(draw: st.DrawFn) -> Image.Image:
    """A small image of a random mode; each side 0 to 40 pixels, often exactly 0 or 1."""
    side = st.one_of(st.sampled_from([0, 1, 2]), st.integers(0, 40))
    mode = draw(st.sampled_from(MODES))
    return _image(mode, draw(side), draw(side), draw(st.integers(0, 2**32 - 1)))


def _encode(image: Image.Image, format: str) -> bytes | None:
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=format)
    except (OSError, ValueError, KeyError, SystemError, ZeroDivisionError, MemoryError):
        return None  # a mode or size this format cannot hold: nothing to read back
    return buffer.getvalue()


def assert_prepared(predictor: Predictor, image: Image.Image | np.ndarray) -> None:
    """`prepare` gives a uint8 (28, 28) input, or an ImageError; so does Fashion's pipeline."""
    for prepare in (predictor.prepare, lambda im: product_28x28(to_grey(im))):
        try:
            prepared = prepare(image)
        except ImageError:
            continue
        assert prepared.shape == (28, 28) and prepared.dtype == np.uint8


@pytest.mark.timeout(120)
@BOUNDED
@given(data=st.binary(max_size=2048))
def test_random_bytes_are_an_image_or_an_image_error(data: bytes) -> None:
    try:
        image = read_image(data)
    except ImageError:
        return
    assert image.width * image.height >= 0


@st.composite
def damaged_files(draw: st.DrawFn) -> bytes:
    """A valid image file, then cut short or with a few bytes overwritten."""
    image = draw(images())
    encoded = _encode(image, draw(st.sampled_from(FORMATS))) or b""
    data = bytearray(encoded)
    for _ in range(draw(st.integers(0, 4)) if data else 0):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


@pytest.mark.timeout(120)
@BOUNDED
@given(data=damaged_files())
def test_damaged_files_are_an_image_or_an_image_error(data: bytes, resnet: Predictor) -> None:
    try:
        image = read_image(data)
    except ImageError:
        return
    assert_prepared(resnet, image)


@pytest.mark.timeout(120)
@BOUNDED
@given(image=images(), format=st.sampled_from(FORMATS))
def test_encoded_images_read_back_at_their_size(
    image: Image.Image, format: str, resnet: Predictor
) -> None:
    assert_prepared(resnet, image)
    data = _encode(image, format)
    if data is None:
        return
    try:
        decoded = read_image(data)
    except ImageError:
        # Only what no reader could use: an empty image Pillow wrote but cannot read back.
        assert image.width == 0 or image.height == 0 or format not in LOSSLESS
        return
    assert decoded.size == image.size
    assert_prepared(resnet, decoded)


@pytest.mark.timeout(120)
@BOUNDED
@given(
    shape=st.tuples(st.integers(0, 40), st.integers(0, 40), st.sampled_from([None, 1, 2, 3, 4])),
    dtype=st.sampled_from([np.uint8, np.float64, np.int16, np.bool_]),
)
def test_arrays_are_prepared_or_refused_in_one_line(
    shape: tuple[int, int, int | None], dtype: type, resnet: Predictor
) -> None:
    height, width, channels = shape
    array = np.full((height, width) if channels is None else (height, width, channels), 7, dtype)
    if array.size:
        array.flat[0] = 200 if dtype != np.bool_ else True
    try:
        prepared = resnet.prepare(array)
    except ImageError as error:
        assert "\n" not in str(error)
        return
    assert dtype == np.uint8 and channels in (None, 1, 3, 4) and prepared.shape == (28, 28)
