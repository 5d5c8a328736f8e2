"""Mask resolution helpers: subsample a mask by an integer factor (nearest) and bring it back up.

The paper subsamples ``P x P`` patch masks to ``S x S`` (factor ``P / S``, e.g. 640 -> 80 is 8) before
tokenizing, and upsamples generated masks back to ``P`` for stitching and evaluation.
"""

from __future__ import annotations

import numpy as np


def _check_factor(factor: int) -> int:
    if isinstance(factor, bool) or int(factor) != factor or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}")
    return int(factor)


def subsample(mask: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour subsampling of the last two axes by ``factor``.

    ``mask``: ``(..., H, W)`` label array with ``H`` and ``W`` divisible by ``factor``.
    Returns ``(..., H // factor, W // factor)``: the pixel at the centre of each ``factor x factor`` cell
    (its lower-right centre pixel for even factors), so a label never mixes with its neighbours.
    """
    f = _check_factor(factor)
    arr = np.asarray(mask)
    if arr.ndim < 2:
        raise ValueError(f"subsample needs a mask of at least 2 dimensions, got shape {arr.shape}")
    h, w = arr.shape[-2:]
    if h % f or w % f:
        raise ValueError(f"mask of shape {arr.shape}: height and width must be divisible by factor {f}")
    off = f // 2
    return np.ascontiguousarray(arr[..., off::f, off::f])


def upsample(mask: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upsampling of the last two axes: every pixel becomes a ``factor x factor`` block.

    ``mask``: ``(..., S, S')`` -> ``(..., S * factor, S' * factor)``; ``upsample(subsample(m, f), f)``
    equals ``m`` wherever ``m`` is constant on each block.
    """
    f = _check_factor(factor)
    arr = np.asarray(mask)
    if arr.ndim < 2:
        raise ValueError(f"upsample needs a mask of at least 2 dimensions, got shape {arr.shape}")
    return np.repeat(np.repeat(arr, f, axis=-2), f, axis=-1)


def resize_nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of the last two axes to ``size = (H', W')`` for non-integer factors.

    Pixel ``(i, j)`` of the output takes the input pixel under its centre.
    """
    arr = np.asarray(mask)
    h, w = arr.shape[-2:]
    oh, ow = int(size[0]), int(size[1])
    if oh < 1 or ow < 1:
        raise ValueError(f"target size must be positive, got {size!r}")
    rows = np.minimum(((np.arange(oh) + 0.5) * h / oh).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(ow) + 0.5) * w / ow).astype(np.int64), w - 1)
    return np.ascontiguousarray(arr[..., rows[:, None], cols[None, :]])
