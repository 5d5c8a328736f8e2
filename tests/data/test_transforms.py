"""Augmentation keeps image, mask and instances aligned: the mask is drawn from the image itself."""

from __future__ import annotations

import numpy as np
import pytest

from rleseg.data.sample import Sample
from rleseg.data.transforms import AugmentConfig, augment, build_transform


def painted_sample(size: int = 48, frames: int | None = None, seed: int = 0) -> Sample:
    """Random blocky labels; the image's red channel is mask * 100 and green is instance id * 40."""
    rng = np.random.default_rng(seed)
    shape = (size, size) if frames is None else (frames, size, size)
    coarse = rng.integers(0, 3, size=(*shape[:-2], size // 8, size // 8))
    mask = np.repeat(np.repeat(coarse, 8, -2), 8, -1)
    inst = np.where(mask > 0, rng.integers(1, 5, size=mask.shape) * 0 + mask + 2, 0)
    image = np.stack([mask * 100, inst * 40, np.full_like(mask, 255)], axis=-1).astype(np.uint8)
    return Sample(image, mask, inst, "painted")


def test_lossless_transforms_keep_exact_alignment() -> None:
    cfg = AugmentConfig(rot90=True, degrees=0, hflip=0.5, vflip=0.5)
    transform = build_transform(cfg)
    rng = np.random.default_rng(0)
    s = painted_sample()
    changed = 0
    for _ in range(20):
        out = augment(s, cfg, transform, rng)
        assert np.array_equal(out.image[..., 0], out.mask * 100)
        assert np.array_equal(out.image[..., 1], out.instances * 40)
        changed += not np.array_equal(out.mask, s.mask)
    assert changed > 10, "augmentation should usually change the sample"


def test_arbitrary_rotation_keeps_labels_aligned_inside_the_image() -> None:
    cfg = AugmentConfig(rot90=False, degrees=30, hflip=0, vflip=0)
    out = augment(painted_sample(64), cfg, build_transform(cfg), np.random.default_rng(3))
    inside = out.image[..., 2] == 255  # pixels that came from the image (corners are filled with 0)
    # the image is interpolated bilinearly, so only pixels at label boundaries may blur into a neighbour
    agree = np.round(out.image[..., 0][inside] / 100) == out.mask[inside]
    assert agree.mean() > 0.95
    assert set(np.unique(out.mask)) <= {0, 1, 2}, "labels are never interpolated"


def test_every_frame_of_a_clip_gets_the_same_transform() -> None:
    cfg = AugmentConfig()
    s = painted_sample(32, frames=1)
    clip = Sample(np.repeat(s.image, 3, 0), np.repeat(s.mask, 3, 0), np.repeat(s.instances, 3, 0), "clip")
    out = augment(clip, cfg, build_transform(cfg), np.random.default_rng(5))
    assert out.mask.shape == (3, 32, 32)
    assert np.array_equal(out.mask[0], out.mask[1]) and np.array_equal(out.mask[1], out.mask[2])
    assert np.array_equal(out.image[..., 0], out.mask * 100)


def test_disabled_augmentation_returns_the_sample() -> None:
    cfg = AugmentConfig(rot90=False, degrees=0, hflip=0, vflip=0)
    s = painted_sample()
    assert augment(s, cfg, build_transform(cfg), np.random.default_rng(0)) is s


def test_colour_jitter_changes_the_image_only_and_every_frame_alike() -> None:
    cfg = AugmentConfig(rot90=False, hflip=0, vflip=0, brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    s = painted_sample(32, frames=1, seed=2)
    clip = Sample(np.repeat(s.image, 3, 0), np.repeat(s.mask, 3, 0), np.repeat(s.instances, 3, 0), "clip")
    transform, rng = build_transform(cfg), np.random.default_rng(1)
    changed = 0
    for _ in range(5):
        out = augment(clip, cfg, transform, rng)
        assert np.array_equal(out.mask, clip.mask) and np.array_equal(out.instances, clip.instances)
        assert np.array_equal(out.image[0], out.image[1]) and np.array_equal(out.image[1], out.image[2])
        changed += not np.array_equal(out.image, clip.image)
    assert changed == 5, "colour jitter of this strength changes every draw"


def test_colour_jitter_settings_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match=r"data.augment.brightness=1.5"):
        AugmentConfig(brightness=1.5)
    with pytest.raises(ValueError, match=r"data.augment.hue=0.7"):
        AugmentConfig(hue=0.7)
