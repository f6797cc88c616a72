"""Real MNIST test digits as image files in many formats and modes, for the predict tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image


def as_photo(digit: np.ndarray, size: int = 240) -> Image.Image:
    """An MNIST digit (light on dark) as a larger dark-ink-on-paper greyscale image, off-centre."""
    page = Image.new("L", (size, size), 235)
    ink = Image.fromarray(255 - digit).resize((size // 2, size // 2), Image.Resampling.BICUBIC)
    page.paste(ink, (size // 8, size // 3))
    return page


def _rgba_ink(page: Image.Image) -> Image.Image:
    # Dark strokes on a fully transparent sheet, as drawing apps export them.
    alpha = Image.eval(page, lambda v: 255 - v)
    return Image.merge("RGBA", (page, page, page, alpha))


def _sixteen_bit(page: Image.Image) -> Image.Image:
    return Image.fromarray(np.asarray(page, dtype=np.uint16) * 257)


# name → (how to make the image from the dark-on-light page, file suffix)
VARIANTS: dict[str, tuple[Callable[[Image.Image], Image.Image], str]] = {
    "grey-png": (lambda page: page, ".png"),
    "rgb-jpeg": (lambda page: page.convert("RGB"), ".jpg"),
    "rgba-png": (_rgba_ink, ".png"),
    "palette-png": (lambda page: page.convert("RGB").convert("P"), ".png"),
    "16bit-png": (_sixteen_bit, ".png"),
    "bilevel-bmp": (lambda page: page.point(lambda v: 255 if v > 128 else 0).convert("1"), ".bmp"),
    "rgb-webp": (lambda page: page.convert("RGB"), ".webp"),
    "light-on-dark-png": (lambda page: Image.eval(page, lambda v: 255 - v), ".png"),
}


def write_variant(digit: np.ndarray, variant: str, path: Path) -> Path:
    """Save `digit` as `variant` at `path` + the variant's suffix."""
    make, suffix = VARIANTS[variant]
    target = path.with_suffix(suffix)
    make(as_photo(digit)).save(target)
    return target
