"""Morphological clean-up of predicted masks: close small background gaps inside runs of one class.

A run-length-encoded mask that loses a few tokens at inference shows short background gaps in rows (a
dropped run) or columns (a dropped row of runs); the paper (section II) notes that such gaps are easily
remedied by morphological operations (Soille, *Morphological Image Analysis*, 2003). :func:`close_gaps`
fills a background pixel when it lies in a row or column gap of at most ``gap`` pixels bounded on both ends
by the same class. This is the union of the closings of each class with horizontal and vertical segments of
``gap + 1`` pixels, restricted to background pixels: class pixels never change, background next to one
class or between two different classes never changes, gaps touching the border stay, and holes wider than
``gap`` in both directions stay. A pixel that closes to one class along its row and another along its column
stays background. Video masks are cleaned frame by frame (gaps along time are left alone).
"""

from __future__ import annotations

import numpy as np


def _row_fill(mask: np.ndarray, gap: int) -> np.ndarray:
    """Class that closes each background pixel along the last axis (0: none). ``mask`` ``(..., W)`` ints."""
    w = mask.shape[-1]
    pos = np.arange(w)
    filled = mask != 0
    left = np.maximum.accumulate(np.where(filled, pos, -1), axis=-1)  # last class pixel at or before i
    right = np.flip(np.minimum.accumulate(np.flip(np.where(filled, pos, w), -1), axis=-1), -1)  # first at/after
    inside = (left >= 0) & (right < w)
    left_value = np.take_along_axis(mask, np.clip(left, 0, w - 1), axis=-1)
    right_value = np.take_along_axis(mask, np.clip(right, 0, w - 1), axis=-1)
    closes = ~filled & inside & (right - left - 1 <= gap) & (left_value == right_value)
    return np.where(closes, left_value, 0)


def close_gaps(mask: np.ndarray, gap: int) -> np.ndarray:
    """Fill background gaps of at most ``gap`` pixels between pixels of the same class (see the module doc).

    ``mask``: ``(H, W)`` or ``(T, H, W)`` integer labels, 0 = background (instance ids work the same way).
    ``gap``: the widest gap closed, in pixels; 0 returns a copy. Returns a new array of ``mask``'s shape
    and dtype; only background pixels change.
    """
    mask = np.asarray(mask)
    if mask.ndim not in (2, 3) or not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"expected an (H, W) or (T, H, W) integer mask, got {mask.dtype} {mask.shape}")
    if isinstance(gap, bool) or int(gap) != gap or gap < 0:
        raise ValueError(f"gap must be an integer >= 0 (pixels), got {gap!r}")
    if gap == 0 or mask.size == 0:
        return mask.copy()
    rows = _row_fill(mask, int(gap))
    cols = np.swapaxes(_row_fill(np.swapaxes(mask, -1, -2), int(gap)), -1, -2)
    agree = (rows == 0) | (cols == 0) | (rows == cols)
    fill = np.where(agree, np.maximum(rows, cols), 0)
    return np.where(mask == 0, fill, mask).astype(mask.dtype, copy=False)
