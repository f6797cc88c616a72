"""Batched, seeded augmentations."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from zoo.data.augment import RandomAffine, RandomCropFlip, _affine_grid


def test_random_affine_without_range_is_the_identity() -> None:
    images = torch.rand(4, 1, 28, 28) * 255
    identity = RandomAffine(degrees=0, translate=0, scale=(1, 1))
    torch.testing.assert_close(identity(images, seed=1), images, atol=1e-3, rtol=0)


def test_random_affine_is_seeded_per_batch() -> None:
    images = torch.rand(8, 1, 28, 28) * 255
    augment = RandomAffine()
    torch.testing.assert_close(augment(images, 5), augment(images, 5))
    assert not torch.allclose(augment(images, 5), augment(images, 6))


def test_affine_grid_equals_torchs_for_rotation_zoom_shift() -> None:
    n, h, w = 16, 20, 28  # not square, so swapped axes would show
    generator = torch.Generator().manual_seed(0)
    angle = torch.rand(n, generator=generator) - 0.5
    zoom = torch.rand(n, generator=generator) * 0.4 + 0.8
    shift = torch.rand(n, 2, generator=generator) - 0.5
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    expected = F.affine_grid(theta, [n, 1, h, w], align_corners=False)
    grid = _affine_grid(cos, sin, shift, torch.zeros(n, 1, h, w))
    torch.testing.assert_close(grid, expected, atol=1e-6, rtol=0)


def test_random_affine_shift_moves_a_dot() -> None:
    image = torch.zeros(1, 1, 28, 28)
    image[0, 0, 14, 14] = 255
    shifted = RandomAffine(degrees=0, translate=0.2, scale=(1, 1))(image, seed=0)
    assert shifted.argmax() != image.argmax()
    torch.testing.assert_close(shifted.sum(), image.sum(), rtol=0.05, atol=0)


def test_crop_flip_keeps_pixels_from_the_padded_image() -> None:
    images = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).view(2, 3, 32, 32)
    out = RandomCropFlip(padding=4)(images, seed=0)
    assert out.shape == images.shape
    values = set(images.flatten().tolist()) | {0.0}
    assert set(out.flatten().tolist()) <= values


def test_crop_flip_without_padding_only_flips() -> None:
    images = torch.rand(64, 3, 32, 32)
    out = RandomCropFlip(padding=0)(images, seed=0)
    flipped = (out == images.flip(3)).flatten(1).all(1)
    same = (out == images).flatten(1).all(1)
    assert (flipped | same).all()
    assert 10 < flipped.sum() < 54, "about half the batch is flipped"
