"""close_gaps fills short background gaps inside one class's runs, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from rleseg.inference.cleanup import close_gaps


def blobs() -> np.ndarray:
    """A clean two-class mask: a rectangle, a disk and an L shape, more than 3 pixels apart."""
    m = np.zeros((40, 50), np.int64)
    m[3:12, 4:20] = 1
    yy, xx = np.mgrid[:40, :50]
    m[(yy - 28) ** 2 + (xx - 12) ** 2 <= 36] = 2
    m[20:36, 30:34] = 1
    m[32:36, 30:46] = 1
    m[5:10, 26:30] = 2  # 6 pixels right of the rectangle: a gap between two different classes
    return m


def test_one_pixel_gaps_in_runs_are_filled() -> None:
    clean = blobs()
    broken = clean.copy()
    broken[6, 10] = 0  # a dropped pixel inside a row run
    broken[3:12, 15] = 0  # a dropped column (one pixel of every row run)
    broken[28:30, 8:10] = 0  # a 2 x 2 hole in the disk
    assert np.array_equal(close_gaps(broken, 2), clean)
    assert (close_gaps(broken, 1)[28:30, 8:10] == 0).all(), "the 2 x 2 hole needs gap >= 2"
    assert close_gaps(broken, 1)[6, 10] == 1 and close_gaps(broken, 1)[5, 15] == 1


def test_clean_masks_are_unchanged() -> None:
    clean = blobs()
    for gap in (0, 1, 3):
        assert np.array_equal(close_gaps(clean, gap), clean)
    video = np.stack([clean, np.roll(clean, 3, axis=1), np.zeros_like(clean)])
    assert np.array_equal(close_gaps(video, 3), video)


def test_big_holes_and_other_gaps_stay() -> None:
    m = np.zeros((30, 30), np.int64)
    m[2:20, 2:20] = 1
    m[6:12, 6:12] = 0  # a 6 x 6 hole: wider than the gap in both directions
    m[25, 0:5] = 1
    m[25, 8:14] = 2  # a 3-pixel gap between two different classes
    m[29, 20:25] = 1  # background on its left and right reaches the border: no second end
    out = close_gaps(m, 4)
    assert np.array_equal(out, m)
    m[6:12, 9] = 1  # the hole is now two 3 x 6 holes: 3 wide in rows, so rows close them
    assert (close_gaps(m, 3)[6:12, 6:12] == 1).all()
    assert (close_gaps(m, 2)[6:12, 6:9] == 0).all()


def test_row_and_column_disagreement_stays_background() -> None:
    m = np.zeros((3, 3), np.int64)
    m[1, 0] = m[1, 2] = 1  # the centre closes to 1 along its row
    m[0, 1] = m[2, 1] = 2  # and to 2 along its column
    assert close_gaps(m, 1)[1, 1] == 0
    m[0, 1] = m[2, 1] = 1
    assert close_gaps(m, 1)[1, 1] == 1


def test_video_frames_are_cleaned_separately_and_dtype_is_kept() -> None:
    video = np.zeros((3, 5, 5), np.uint8)
    video[0, 2, :] = [3, 3, 0, 3, 3]
    video[1, 2, 2] = 3  # a pixel along time between frames 0 and 2: not a gap of any frame
    video[2, 2, :] = [3, 0, 0, 0, 3]
    out = close_gaps(video, 1)
    assert out.dtype == np.uint8 and out.shape == video.shape
    assert list(out[0, 2]) == [3] * 5 and list(out[2, 2]) == [3, 0, 0, 0, 3]
    assert int(out[1].sum()) == 3, "frame 1 has no gap"


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_gap_and_mask_are_errors(bad: object) -> None:
    with pytest.raises(ValueError, match="gap must be an integer >= 0"):
        close_gaps(np.zeros((4, 4), np.int64), bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(H, W\) or \(T, H, W\) integer mask"):
        close_gaps(np.zeros((4, 4), np.float32), 1)
