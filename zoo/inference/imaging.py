"""Image files to model inputs: the preprocessing MNIST and Fashion-MNIST themselves used.

Real photos and scans are not MNIST. MNIST's digits were size-normalised to fit a 20×20 box
(keeping the aspect ratio), then centred by their centre of mass in a 28×28 field, light ink on a
dark background. Fashion-MNIST's product photos were trimmed, their longer side scaled to 28 px,
centred, and negated (light object on dark). `digit_28x28` and `product_28x28` repeat those steps
on any image, after `read_image` has opened it safely and `to_grey` has made it one grey channel.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageFilter, ImageOps, UnidentifiedImageError

from zoo.errors import BadInput

FORMATS = ("PNG", "JPEG", "BMP", "WEBP")
MAX_FILE_BYTES = 50 * 2**20
# Pillow's own bomb guard only warns below 2× its limit; ours is a hard cap, checked from the
# header before a single pixel is decoded (a 40-megapixel phone photo still fits).
MAX_PIXELS = 64_000_000
# Ink darker or lighter than the background by less than this (of full scale) is paper texture.
INK_THRESHOLD = 0.2

Grey = np.ndarray  # float32 (H, W) in [0, 1]


class ImageError(BadInput):
    """An image file that cannot be used, with what was wrong."""


def read_image(source: str | Path | bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open a PNG, JPEG, BMP or WebP file (path or bytes) fully decoded, in its stored orientation.

    Raises `ImageError` for empty, oversized, non-image, truncated or decompression-bomb input;
    images over `max_pixels` are refused from the header, before any pixel is decoded.
    """
    data = _read_bytes(source)
    if not data:
        raise ImageError("empty file")
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise ImageError("not a PNG, JPEG, BMP or WebP image") from None
    except Image.DecompressionBombError as error:
        raise ImageError(f"refused as a possible decompression bomb: {error}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(
            f"{width}×{height} pixels is over the {max_pixels:,}-pixel limit "
            "(a decompression bomb?); scale the image down first"
        )
    return _decode(image)


def _read_bytes(source: str | Path | bytes) -> bytes:
    if isinstance(source, bytes):
        if len(source) > MAX_FILE_BYTES:
            raise ImageError(f"{len(source):,} bytes is over the {MAX_FILE_BYTES:,}-byte limit")
        return source
    path = Path(source)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageError(f"{size:,} bytes is over the {MAX_FILE_BYTES:,}-byte limit")
        return path.read_bytes()
    except IsADirectoryError:
        raise ImageError("is a directory") from None
    except FileNotFoundError:
        raise ImageError("no such file") from None
    except OSError as error:
        raise ImageError(f"cannot read: {error.strerror or error}") from None


def _decode(image: Image.Image) -> Image.Image:
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            # Phones store photos sideways and record the rotation in EXIF.
            return ImageOps.exif_transpose(image)
    except Image.DecompressionBombWarning as error:
        raise ImageError(f"refused as a possible decompression bomb: {error}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"corrupt or truncated {image.format} data ({error})") from None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def to_grey(image: Image.Image) -> Grey:
    """One grey channel in [0, 1] from any mode: 1-bit, 8/16/32-bit grey, float, palette,
    RGB(A), CMYK…. Transparent areas become a background that contrasts with the opaque ink."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        grey = np.asarray(image, dtype=np.float64) / 65535.0
    elif image.mode == "F":
        grey = np.asarray(image, dtype=np.float64)
    else:
        alpha = _alpha(image)
        grey = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
        if alpha is not None:
            grey = _flatten(grey, alpha)
    return np.clip(grey, 0.0, 1.0).astype(np.float32)


def _alpha(image: Image.Image) -> np.ndarray | None:
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
        return None if alpha.min() == 1.0 else alpha
    return None


def _flatten(grey: Grey, alpha: np.ndarray) -> Grey:
    opaque = alpha > 0.5
    ink = float(grey[opaque].mean()) if opaque.any() else 0.0
    # Dark strokes on a transparent sheet go onto white paper, light strokes onto black.
    background = 1.0 if ink < 0.5 else 0.0
    return grey * alpha + background * (1.0 - alpha)


def light_on_dark(grey: Grey) -> Grey:
    """The image as light ink on a dark background, stretched so the background is 0 and the
    strongest ink 1. The background is read from the border, where a centred subject is not."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    ink = grey if background < 0.5 else 1.0 - grey
    level = min(background, 1.0 - background)
    peak = float(ink.max())
    if peak - level < INK_THRESHOLD:
        raise ImageError("no digit or object found: the image is blank or has too little contrast")
    return np.clip((ink - level) / (peak - level), 0.0, 1.0).astype(np.float32)


def _bounding_box(ink: Grey) -> tuple[int, int, int, int]:
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _fit(ink: Grey, longer_side: int) -> Grey:
    top, bottom, left, right = _bounding_box(ink)
    crop = ink[top:bottom, left:right]
    height, width = crop.shape
    scale = longer_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(np.ascontiguousarray(crop)).resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def _paste(patch: Grey, centre: tuple[float, float], canvas: int) -> Grey:
    out = np.zeros((canvas, canvas), dtype=np.float32)
    height, width = patch.shape
    # Whole pixels, kept inside the canvas: the digit is never cut to honour its centre.
    top = min(max(round(canvas / 2 - centre[0]), 0), canvas - height)
    left = min(max(round(canvas / 2 - centre[1]), 0), canvas - width)
    out[top : top + height, left : left + width] = patch
    return out


def _centre_of_mass(patch: Grey) -> tuple[float, float]:
    rows, cols = np.indices(patch.shape, dtype=np.float64)
    total = float(patch.sum())
    return float((rows * patch).sum() / total) + 0.5, float((cols * patch).sum() / total) + 0.5


def _to_uint8(grey: Grey) -> np.ndarray:
    return np.round(np.clip(grey, 0.0, 1.0) * 255.0).astype(np.uint8)


def digit_28x28(grey: Grey) -> np.ndarray:
    """MNIST's preprocessing: light-on-dark, cropped, longer side 20 px, centre of mass at the
    centre of a 28×28 field. Returns uint8 (28, 28) like the dataset's own images."""
    patch = _fit(light_on_dark(grey), 20)
    return _to_uint8(_paste(patch, _centre_of_mass(patch), 28))


def product_28x28(grey: Grey) -> np.ndarray:
    """Fashion-MNIST's preprocessing: light-on-dark, trimmed, longer side 28 px, sharpened,
    centred in a 28×28 field. Returns uint8 (28, 28) like the dataset's own images."""
    patch = _fit(light_on_dark(grey), 28)
    sharpened = Image.fromarray(_to_uint8(patch)).filter(ImageFilter.SHARPEN)
    patch = np.asarray(sharpened, dtype=np.float32) / 255.0
    return _to_uint8(_paste(patch, (patch.shape[0] / 2, patch.shape[1] / 2), 28))


PIPELINES: dict[str, Callable[[Grey], np.ndarray]] = {
    "mnist": digit_28x28,
    "fashion_mnist": product_28x28,
}


def pipeline_for(dataset: str) -> Callable[[Grey], np.ndarray]:
    """The preprocessing for weights trained on `dataset` (the table's `dataset.name`)."""
    try:
        return PIPELINES[dataset]
    except KeyError:
        raise ImageError(
            f"no image preprocessing for weights trained on {dataset!r}; "
            f"known: {', '.join(PIPELINES)}"
        ) from None
