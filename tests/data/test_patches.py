"""Sliding windows, temporal windows, resizing and cropping."""

from __future__ import annotations

import numpy as np
import pytest

from rleseg.data.patches import crop_window, resize_sample, spatial_windows, temporal_windows, window_starts
from rleseg.data.sample import Sample


def test_fixed_stride_windows_cover_the_axis_and_the_last_one_is_shifted_back() -> None:
    assert window_starts(100, 40, 40, None) == [0, 40, 60]
    assert window_starts(80, 40, 40, None) == [0, 40]
    assert window_starts(30, 40, 40, None) == [0]


def test_random_strides_stay_in_range_and_cover_every_pixel() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        starts = window_starts(517, 64, (20, 64), rng)
        steps = np.diff(starts)
        assert starts[0] == 0 and starts[-1] == 517 - 64
        assert (steps[:-1] >= 20).all() and (steps <= 64).all()
        covered = np.zeros(517, bool)
        for s in starts:
            covered[s : s + 64] = True
        assert covered.all()


def test_random_strides_differ_between_draws() -> None:
    rng = np.random.default_rng(1)
    assert spatial_windows(300, 300, 64, (16, 64), rng) != spatial_windows(300, 300, 64, (16, 64), rng)


def test_bad_stride_is_refused() -> None:
    with pytest.raises(ValueError, match="stride"):
        window_starts(100, 10, (5, 2), None)


def test_temporal_windows_end_at_the_last_frame() -> None:
    assert temporal_windows(10, 3, 3) == [0, 3, 6, 7]
    assert temporal_windows(10, 2, 1) == list(range(9))
    assert temporal_windows(2, 4, 1) == [0]


def sample(h: int = 30, w: int = 50, frames: int | None = None) -> Sample:
    rng = np.random.default_rng(0)
    shape = (h, w) if frames is None else (frames, h, w)
    mask = rng.integers(0, 3, size=shape)
    image = np.stack([mask * 100, mask * 50, np.zeros_like(mask)], axis=-1).astype(np.uint8)
    return Sample(image, mask, mask * 7, "s")


def test_resize_keeps_aspect_and_uses_nearest_labels() -> None:
    out = resize_sample(sample(30, 50), 100)
    assert out.mask.shape == (60, 100) and out.image.shape == (60, 100, 3)
    assert set(np.unique(out.mask)) <= {0, 1, 2}
    assert np.array_equal(out.instances, out.mask * 7)


def test_resize_video_resizes_every_frame() -> None:
    out = resize_sample(sample(20, 20, frames=3), 40)
    assert out.image.shape == (3, 40, 40, 3) and out.mask.shape == (3, 40, 40)


def test_crop_pads_outside_the_image_with_background() -> None:
    s = sample(30, 50)
    out = crop_window(s, 10, 30, 32)
    assert out.image.shape == (32, 32, 3) and out.mask.shape == (32, 32)
    assert np.array_equal(out.mask[:20, :20], s.mask[10:30, 30:50])
    assert (out.mask[20:] == 0).all() and (out.image[:, 20:] == 0).all()


def test_crop_video_repeats_the_last_frame_of_a_short_clip() -> None:
    s = sample(16, 16, frames=2)
    out = crop_window(s, 0, 0, 16, t=1, frames=3)
    assert out.mask.shape == (3, 16, 16)
    assert np.array_equal(out.mask[1], s.mask[1]) and np.array_equal(out.mask[2], s.mask[1])


def test_crop_at_negative_offsets_pads_before_the_image() -> None:
    s = sample(30, 50)
    out = crop_window(s, -5, -7, 32)
    assert out.image.shape == (32, 32, 3) and out.mask.shape == (32, 32)
    assert np.array_equal(out.mask[5:, 7:], s.mask[:27, :25])
    assert (out.mask[:5] == 0).all() and (out.image[:, :7] == 0).all()


def test_training_windows_of_a_small_image_are_shifted_at_random() -> None:
    rng = np.random.default_rng(0)
    starts = [window_starts(120, 128, (64, 128), rng) for _ in range(200)]
    assert all(len(s) == 1 for s in starts)
    values = {s[0] for s in starts}
    assert min(values) == 120 - 128 - 16 and max(values) == 16, "offsets span [L - P - P/8, P/8]"
    assert window_starts(120, 128, (64, 128), None) == [0], "evaluation windows stay at 0"
