"""Property tests of the predict decoder: whatever a client posts (random bytes, random JSON,
random base64, random small images of every mode and format the API names), `prepared_image`
gives the 28×28 input or a clean `ApiError` (400 or 422); never another exception, never a 500.
A sample of the same bodies goes through real HTTP too."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np
import pytest
from helpers.serve_client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from zoo.serve import DigitApp
from zoo.serve.server import ApiError, prepared_image

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
JSON_HEADERS = {"Content-Type": "application/json"}
CLEAN_STATUSES = {400, 422}

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
FORMATS = {
    "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"),
    "JPEG": ("L", "RGB", "CMYK"),
    "BMP": ("1", "L", "P", "RGB"),
    "WEBP": ("L", "RGB", "RGBA"),
    "GIF": ("L", "P"),  # not a format the API accepts: must be a clean 422
    "TIFF": ("L", "RGB", "I", "F"),  # ditto
}


@st.composite
def small_images(draw: st.DrawFn) -> bytes:
    """A random image file: a format, a mode it can store, a small size and random pixels."""
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    mode = draw(st.sampled_from(FORMATS[fmt]))
    width, height = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    seed = draw(st.integers(0, 2**32 - 1))
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
    image = Image.fromarray(pixels, "RGBA").convert(mode if mode not in ("I;16", "I", "F") else "L")
    if mode in ("I;16", "I", "F"):
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    data = buffer.getvalue()
    if draw(st.booleans()):
        return data
    # A damaged copy: truncated, or with bytes overwritten.
    cut = draw(st.integers(0, len(data)))
    if draw(st.booleans()):
        return data[:cut]
    patch = draw(st.binary(min_size=1, max_size=16))
    return data[:cut] + patch + data[cut + len(patch) :]


def data_url(data: bytes, kind: str = "image/png") -> str:
    """`data` as a base64 data URL of `kind`."""
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


image_fields = st.one_of(
    small_images().map(data_url),
    small_images().map(lambda d: base64.b64encode(d).decode("ascii")),
    st.tuples(small_images(), st.sampled_from(["image/jpeg", "text/plain", "", "image/x"])).map(
        lambda pair: data_url(*pair)
    ),
    st.binary(max_size=200).map(data_url),
    st.text(max_size=60),
    st.text(alphabet="ABCDEFGHabcdefgh0123456789+/=", max_size=60),
    st.text(max_size=30).map(lambda t: "data:" + t),
    json_values,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["image", "img", "x"]), image_fields, max_size=2).map(
        lambda d: json.dumps(d).encode()
    ),
    image_fields.map(lambda f: json.dumps({"image": f}).encode()),
    small_images(),  # raw image bytes, not JSON
    st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth),  # deep nesting
)


def decode(app: DigitApp, body: bytes) -> np.ndarray | ApiError:
    """The decoder's result for `body`: the input, or the `ApiError` it raised (anything else
    raised fails the test)."""
    try:
        return prepared_image(app, body)
    except ApiError as error:
        return error


def check(outcome: np.ndarray | ApiError) -> None:
    """A usable input, or a 400/422 with a message for the client."""
    if isinstance(outcome, ApiError):
        assert outcome.status in CLEAN_STATUSES, (outcome.status, outcome.message)
        assert outcome.message and "Traceback" not in outcome.message
    else:
        assert outcome.dtype == np.uint8 and outcome.shape == (28, 28)


@PROPERTY
@given(body=bodies)
def test_decoder_gives_an_input_or_a_clean_error(digit_app: DigitApp, body: bytes) -> None:
    check(decode(digit_app, body))


@PROPERTY
@given(image=small_images())
def test_every_small_image_decodes_or_is_refused_with_422(
    digit_app: DigitApp, image: bytes
) -> None:
    outcome = decode(digit_app, json.dumps({"image": data_url(image)}).encode())
    check(outcome)
    if isinstance(outcome, ApiError):
        assert outcome.status == 422, outcome.message


def test_a_good_drawing_decodes(digit_app: DigitApp) -> None:
    """The property above is not vacuous: a real drawing gives the model's input."""
    canvas = Image.new("L", (140, 140), 255)
    canvas.paste(0, (60, 20, 80, 120))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    outcome = decode(digit_app, json.dumps({"image": data_url(buffer.getvalue())}).encode())
    assert isinstance(outcome, np.ndarray) and outcome.max() > 100


@settings(PROPERTY, max_examples=30)
@given(body=bodies)
def test_random_bodies_over_http_get_200_or_a_json_4xx(client: Client, body: bytes) -> None:
    reply = client.request("POST", "/api/predict", body, JSON_HEADERS)
    assert reply.status == 200 or reply.status in CLEAN_STATUSES, (reply.status, reply.body)
    answer: Any = reply.json()
    if reply.status != 200:
        assert isinstance(answer["error"], str) and answer["error"]


@pytest.mark.parametrize("depth", [100_000, 500_000])
def test_deeply_nested_json_is_a_clean_400(digit_app: DigitApp, depth: int) -> None:
    outcome = decode(digit_app, b"[" * depth + b"]" * depth)
    assert isinstance(outcome, ApiError) and outcome.status == 400, outcome
