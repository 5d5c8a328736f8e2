"""Lossless run extraction and painting over a flattened label array.

A run is ``(start, length, value)`` over the flattened array: 0-based ``start``, ``length >= 1`` and a
non-zero ``value``. Runs never mix values and never cross a *line*: the flattened array is cut into
lines of ``line_len`` consecutive elements (a row of the mask for row-major order, a column for
column-major order), which bounds every length by ``line_len`` as the paper's vocabulary assumes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Flattening:
    """How a label array of ``shape`` becomes a 1-D vector, and where its lines are.

    ``axes`` lists the array's axes from slowest to fastest; the last ``line_axes`` of them form one line.
    Example: a ``(H, W)`` mask in column-major order has ``axes=(1, 0)``, ``line_axes=1``: lines are columns.
    """

    shape: tuple[int, ...]
    axes: tuple[int, ...]
    line_axes: int = 1

    def __post_init__(self) -> None:
        if sorted(self.axes) != list(range(len(self.shape))):
            raise ValueError(f"axes {self.axes} are not a permutation of the dimensions of {self.shape}")
        if not 1 <= self.line_axes <= len(self.shape):
            raise ValueError(f"line_axes must be in [1, {len(self.shape)}], got {self.line_axes}")

    @property
    def size(self) -> int:
        """Number of elements ``n`` of the flattened vector."""
        return math.prod(self.shape)

    @property
    def line_len(self) -> int:
        """Elements per line: the largest possible run length."""
        return math.prod(self.shape[a] for a in self.axes[-self.line_axes :])

    @property
    def num_lines(self) -> int:
        """Number of lines: ``size // line_len``."""
        return self.size // self.line_len

    @property
    def _inverse(self) -> tuple[int, ...]:
        return tuple(int(i) for i in np.argsort(self.axes))

    def flatten(self, labels: np.ndarray) -> np.ndarray:
        """``labels`` of ``shape`` -> 1-D vector of ``size`` elements (a view when no copy is needed)."""
        if self.axes == tuple(range(len(self.shape))):
            return labels.reshape(-1)
        return np.transpose(labels, self.axes).reshape(-1)

    def unflatten(self, flat: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`flatten`: 1-D vector -> C-contiguous array of ``shape``."""
        permuted = flat.reshape([self.shape[a] for a in self.axes])
        if self.axes == tuple(range(len(self.shape))):
            return permuted
        return np.ascontiguousarray(np.transpose(permuted, self._inverse))


def flattening_2d(shape: tuple[int, int], order: str) -> Flattening:
    """Row-major (``order="row"``, lines are rows) or column-major (``"col"``) flattening of ``(H, W)``."""
    if order == "row":
        return Flattening(shape, (0, 1), 1)
    if order == "col":
        return Flattening(shape, (1, 0), 1)
    raise ValueError(f"order must be 'row' or 'col', got {order!r}")


def flattening_video(shape: tuple[int, int, int], kind: str, order: str) -> Flattening:
    """Flattening of a video ``(N, H, W)``.

    ``kind="c"`` (3D-C): frames one after the other, each frame row- or column-major; lines are rows
    (or columns) of one frame. ``kind="f"`` (3D-F, Fortran-like): time varies fastest, so one pixel's
    values over the N frames are adjacent; ``order="col"`` (true Fortran order) then walks down a column,
    ``order="row"`` along a row; a line is one column (row) through all frames, ``N*H`` (``N*W``) long.
    """
    if order not in ("row", "col"):
        raise ValueError(f"order must be 'row' or 'col', got {order!r}")
    if kind == "c":
        return Flattening(shape, (0, 1, 2) if order == "row" else (0, 2, 1), 1)
    if kind == "f":
        return Flattening(shape, (2, 1, 0) if order == "col" else (1, 2, 0), 2)
    raise ValueError(f"video flattening kind must be 'c' or 'f', got {kind!r}")


def extract_runs(flat: np.ndarray, line_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All runs of non-zero values in ``flat``, in increasing start order, cut at line ends.

    ``flat``: 1-D integer or bool array of ``n`` elements, ``n`` a multiple of ``line_len``.
    Returns ``(starts, lengths, values)``, three int64 arrays of shape ``(R,)``.
    """
    n = flat.size
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    if flat.dtype == np.bool_:
        flat = flat.view(np.uint8)
    change = np.empty(n, dtype=np.bool_)
    change[0] = True
    np.not_equal(flat[1:], flat[:-1], out=change[1:])
    change[::line_len] = True
    bounds = np.flatnonzero(change)
    vals = flat[bounds]
    keep = vals != 0
    ends = np.empty_like(bounds)
    ends[:-1] = bounds[1:]
    ends[-1] = n
    starts = bounds[keep]
    return starts, ends[keep] - starts, vals[keep].astype(np.int64)


def paint_runs(
    n: int, starts: np.ndarray, lengths: np.ndarray, values: np.ndarray, dtype: np.dtype | type = np.int64
) -> tuple[np.ndarray, int]:
    """Paint runs into a zero vector of ``n`` elements; later runs win where runs overlap.

    ``starts``, ``lengths``, ``values``: ``(R,)`` arrays; every run must lie inside ``[0, n)``.
    Returns ``(flat, overlaps)``: the ``(n,)`` vector and how many runs overlapped an earlier one.
    """
    out_dtype = np.dtype(dtype)
    r = len(starts)
    if r == 0:
        return np.zeros(n, dtype=out_dtype), 0
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    values = np.asarray(values)
    if r > 1 and np.any(starts[1:] < starts[:-1]):
        order = np.argsort(starts, kind="stable")
        s, ln, v = starts[order], lengths[order], values[order]
    else:
        order, s, ln, v = None, starts, lengths, values
    ends = s + ln
    overlapping = ends[:-1] > s[1:]
    if np.any(overlapping):
        flat = np.zeros(n, dtype=out_dtype)
        covered = np.zeros(n, dtype=np.bool_)
        overlaps = 0
        for start, length, value in zip(starts.tolist(), lengths.tolist(), values.tolist(), strict=True):
            overlaps += bool(covered[start : start + length].any())
            covered[start : start + length] = True
            flat[start : start + length] = value
        return flat, overlaps
    # Sorted, disjoint runs: interleave background gaps and runs, then one np.repeat.
    gaps = np.empty(r + 1, dtype=np.int64)
    gaps[0] = s[0]
    gaps[1:-1] = s[1:] - ends[:-1]
    gaps[-1] = n - ends[-1]
    reps = np.empty(2 * r + 1, dtype=np.int64)
    reps[0::2] = gaps
    reps[1::2] = ln
    vals = np.zeros(2 * r + 1, dtype=out_dtype)
    vals[1::2] = v
    return np.repeat(vals, reps), 0


def runs_to_lines(starts: np.ndarray, line_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Split flat starts into ``(line index, offset in line)``; both ``(R,)`` int64."""
    return np.divmod(np.asarray(starts, dtype=np.int64), line_len)
