"""Image files to model inputs: the preprocessing MNIST and Fashion-MNIST themselves used.

Real photos and scans are not MNIST. MNIST's digits were size-normalised to fit a 20×20 box
(keeping the aspect ratio), then centred by their centre of mass in a 28×28 field, light ink on a
dark background. Fashion-MNIST's product photos were trimmed, their longer side scaled to 28 px,
centred, and negated (light object on dark). `digit_28x28` and `product_28x28` repeat those steps
on any image, after `read_image` has opened it safely and `to_grey` has made it one grey channel.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageFilter, ImageOps, UnidentifiedImageError

from zoo.errors import BadInput

FORMATS = ("PNG", "JPEG", "BMP", "WEBP")
MAX_FILE_BYTES = 50 * 2**20
CHUNK = 1 << 20
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

    Raises `ImageError` for empty, oversized, non-image, truncated or decompression-bomb input,
    and for a path that is not a regular file (a FIFO, a device, a broken link); images over
    `max_pixels` are refused from the header, before any pixel is decoded.
    """
    data = _read_bytes(source)
    if not data:
        raise ImageError("empty file")
    try:
        with warnings.catch_warnings():
            # Pillow warns of a possible bomb on opening; the pixel limit below refuses it first.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise ImageError("not a PNG, JPEG, BMP or WebP image") from None
    except Image.DecompressionBombError as error:
        raise ImageError(f"refused as a possible decompression bomb: {error}") from None
    except (OSError, SyntaxError, ValueError) as error:  # a known header Pillow then chokes on
        raise ImageError(f"corrupt image header ({error})") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(
            f"{width}×{height} pixels is over the {max_pixels:,}-pixel limit "
            "(a decompression bomb?); scale the image down first"
        )
    return _decode(image)


def _read_bytes(source: str | Path | bytes) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) > MAX_FILE_BYTES:
            raise ImageError(f"{len(source):,} bytes is over the {MAX_FILE_BYTES:,}-byte limit")
        return bytes(source)
    try:
        return read_file(Path(source), MAX_FILE_BYTES)
    except FileNotFoundError:
        raise ImageError(_missing(Path(source))) from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ImageError("a loop of symbolic links", "check where the links point") from None
        raise ImageError(f"cannot read: {error.strerror or error}") from None


# What `stat` calls the kinds of file that are not regular ones.
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_file(path: Path, limit: int) -> bytes:
    """The bytes of the regular file `path`, never reading more than `limit` + 1 of them.

    The file is opened without blocking (a FIFO with no writer does not hang the open) and
    checked on the open descriptor, so a path swapped for a device after the first check is
    still refused. Raises `ImageError` for a file that is not regular or is over `limit`
    bytes, and `OSError` for what the system refuses.
    """
    _check_regular(path, os.stat(path).st_mode)  # devices are refused before they are opened
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        _check_regular(path, info.st_mode)
        if info.st_size > limit:
            raise ImageError(f"{info.st_size:,} bytes is over the {limit:,}-byte limit")
        chunks, total = [], 0
        while total <= limit:  # a file growing while it is read stops at limit + 1 bytes
            chunk = os.read(fd, min(CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > limit:
        raise ImageError(f"over the {limit:,}-byte limit (the file grew while it was read)")
    return b"".join(chunks)


def _check_regular(path: Path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "an unknown kind of file")
    if kind == "a directory":
        raise ImageError("is a directory")
    target = f" (a link to {os.path.realpath(path)})" if path.is_symlink() else ""
    raise ImageError(f"not a regular file but {kind}{target}", "give a PNG, JPEG, BMP or WebP file")


def _missing(path: Path) -> str:
    if path.is_symlink():
        return f"broken symbolic link (to {os.readlink(path)}, which does not exist)"
    return "no such file"


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
        with warnings.catch_warnings():
            # Pillow's advice to convert a palette image with transparency to RGBA: _alpha does.
            warnings.filterwarnings("ignore", "Palette images with Transparency", UserWarning)
            alpha = _alpha(image)
            grey = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
        if alpha is not None:
            grey = _flatten(grey, alpha)
    return np.clip(grey, 0.0, 1.0).astype(np.float32)


def image_from_array(array: np.ndarray) -> Image.Image:
    """An image from uint8 pixels shaped (H, W) (grey) or (H, W, C) with C = 1, 3 or 4 (grey,
    RGB, RGBA), as `np.asarray(PIL.Image.open(path))` gives them; `ImageError` for anything else.
    """
    shape_ok = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4))
    if array.dtype != np.uint8 or not shape_ok:
        raise ImageError(
            f"cannot use a {array.dtype} array shaped {array.shape} as an image",
            "pass uint8 pixels shaped (H, W) or (H, W, C) with C = 1, 3 or 4 "
            "(e.g. (x * 255).round().astype(np.uint8) for floats in [0, 1]), or a PIL image",
        )
    pixels = np.ascontiguousarray(
        array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array
    )
    if pixels.size == 0:
        raise ImageError(f"the image has no pixels ({_size_text(pixels.shape)})")
    return Image.fromarray(pixels)


def _size_text(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}×{shape[0]}" if len(shape) >= 2 else f"shape {shape}"


def _alpha(image: Image.Image) -> np.ndarray | None:
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
        return None if alpha.size == 0 or alpha.min() == 1.0 else alpha
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
    if grey.ndim != 2 or grey.size == 0:
        raise ImageError(f"the image has no pixels ({_size_text(grey.shape)})")
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
