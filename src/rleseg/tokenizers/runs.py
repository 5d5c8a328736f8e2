"""Lossless run extraction and painting over a flattened label array.

A run is ``(start, length, value)`` over the flattened array: 0-based ``start``, ``length >= 1`` and a
non-zero ``value``. Runs never mix values and never cross a *line*: the flattened array is cut into
lines of ``line_len`` consecutive elements (a row of the mask for row-major order, a column for
column-major order), which bounds every length by ``line_len`` as the paper's vocabulary assumes.

Speed notes: at the paper's mask sizes (S = 64..160) a numpy call costs about as much as the work it
does, so the hot paths here are written to make few calls (see ``benchmarks/bench_tokenizer.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

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

    # Derived sizes are cached: they are read on every encode and decode.
    @cached_property
    def size(self) -> int:
        """Number of elements ``n`` of the flattened vector."""
        return math.prod(self.shape)

    @cached_property
    def line_len(self) -> int:
        """Elements per line: the largest possible run length."""
        return math.prod(self.shape[a] for a in self.axes[-self.line_axes :])

    @cached_property
    def num_lines(self) -> int:
        """Number of lines: ``size // line_len``."""
        return self.size // self.line_len

    @cached_property
    def permuted_shape(self) -> tuple[int, ...]:
        """Shape of ``labels`` with its axes in flattening order (slowest first)."""
        return tuple(self.shape[a] for a in self.axes)

    @cached_property
    def is_identity(self) -> bool:
        """True when the flattening is plain C order (``flatten`` is a reshape)."""
        return self.axes == tuple(range(len(self.shape)))

    @cached_property
    def _inverse(self) -> tuple[int, ...]:
        return tuple(int(i) for i in np.argsort(self.axes))

    def flatten(self, labels: np.ndarray) -> np.ndarray:
        """``labels`` of ``shape`` -> 1-D vector of ``size`` elements (a view when no copy is needed)."""
        if self.is_identity:
            return labels.reshape(-1)
        return np.transpose(labels, self.axes).reshape(-1)

    def unflatten(self, flat: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`flatten`: 1-D vector -> C-contiguous array of ``shape``."""
        if self.is_identity:
            return flat.reshape(self.shape)
        return np.ascontiguousarray(np.transpose(flat.reshape(self.permuted_shape), self._inverse))


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
        fg = flat
        flat = flat.view(np.uint8)
    else:
        fg = None
    # change[i]: a run of any value (background included) starts at i; change[n] closes the last one.
    change = np.empty(n + 1, dtype=np.bool_)
    np.not_equal(flat[1:], flat[:-1], out=change[1:n])
    change[::line_len] = True
    change[n] = True
    if n < _DENSE_MIN_SIZE or np.count_nonzero(change) * _DENSE_RATIO < n:
        # Few runs: list every boundary once, then keep the non-zero runs (all O(R) after one O(n) pass).
        bounds = change.nonzero()[0]  # (B + 1,): run starts, then n
        vals = flat.take(bounds[:-1])
        idx = vals.nonzero()[0]  # the non-zero runs among the B
        starts = bounds.take(idx)
        values = vals.take(idx).astype(np.int64)
        idx += 1
        lengths = bounds.take(idx)
        lengths -= starts
        return starts, lengths, values
    # Many runs (noisy masks): find the foreground starts and last elements directly, which avoids
    # materialising every background boundary (about half of them) and gathering through them.
    if fg is None:
        fg = flat != 0
    edge = np.logical_and(change[:n], fg)
    starts = edge.nonzero()[0]
    np.logical_and(change[1:], fg, out=edge)
    lengths = edge.nonzero()[0]  # last element of each run
    lengths -= starts
    lengths += 1
    return starts, lengths, flat.take(starts).astype(np.int64)


# extract_runs switches to its dense path above this size when more than 1 in _DENSE_RATIO elements
# starts a run (measured crossover on noisy vs blob masks, see benchmarks/bench_tokenizer.py).
_DENSE_MIN_SIZE = 4096
_DENSE_RATIO = 4


def extract_foreground_runs(labels: np.ndarray, flattening: Flattening) -> tuple[np.ndarray, np.ndarray]:
    """Runs of non-zero elements of ``labels`` (all non-zero values count as one foreground), cut at lines.

    ``labels``: array of ``flattening.shape`` (any dtype, any memory layout; it is read once, so a
    column-major flattening of a C-ordered mask costs no separate transpose). Returns ``(starts,
    lengths)``, two int64 arrays of shape ``(R,)`` in increasing start order: the runs
    ``extract_runs(flattening.flatten(labels != 0), flattening.line_len)`` would give.
    """
    if labels.shape != flattening.shape:
        raise ValueError(f"labels have shape {labels.shape}, expected {flattening.shape}")
    lines, line_len = flattening.num_lines, flattening.line_len
    if lines * line_len == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if flattening.axes == (1, 0) and lines * line_len >= _ROWSCAN_MIN_SIZE and labels.flags.c_contiguous:
        runs = _column_runs_by_rows(labels)
        if runs is not None:
            return runs
    width = line_len + 1
    # Every line is copied after one False pad element, and one more pad closes the buffer; in the
    # padded vector foreground runs start and end exactly where neighbours differ, alternately.
    buf = np.zeros(lines * width + 1, dtype=np.bool_)
    body = buf[:-1].reshape(lines, width)[:, 1:]  # (lines, line_len) view
    if body.shape != flattening.permuted_shape:
        body = body.reshape(flattening.permuted_shape)  # only splits axes of the view: never copies
    body[...] = labels.transpose(flattening.axes)  # one strided copy; a cast to bool marks non-zeros
    edges = (buf[1:] != buf[:-1]).nonzero()[0]  # (2R,): start, end, start, end ... in padded coordinates
    starts = edges[0::2]
    lengths = edges[1::2] - starts
    starts = starts - starts // width  # drop the pad elements before each start: one per line
    return starts, lengths


def _column_runs_by_rows(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Column-major foreground runs of a C-ordered ``(H, W)`` array without transposing it, or None when
    the mask has too many runs for this to pay.

    A strided transpose of a large mask costs several times a contiguous pass over it. Instead: find the
    vertical edges (where a pixel differs from the one above, with zero rows padded above and below)
    in one contiguous pass, then put the few edges in column order with a radix sort on their column.
    """
    h, w = labels.shape
    buf = np.zeros((h + 2) * w, dtype=np.bool_)
    buf[w:-w].reshape(h, w)[...] = labels
    edges = _vertical_edges(buf, w, h * w // _ROWSCAN_RATIO if _ROWSCAN_RATIO else (h + 1) * w)
    if edges is None:
        return None
    y, x = np.divmod(edges, w)
    order = np.argsort(x.astype(np.uint16) if w <= 1 << 16 else x, kind="stable")  # radix for uint16
    key = x * (h + 1)
    key += y
    key = key.take(order)  # (2R,) column-major edges in padded coordinates: start, end, start, end ...
    starts = key[0::2]
    lengths = key[1::2] - starts
    starts = starts - starts // (h + 1)
    return starts, lengths


def _vertical_edges(buf: np.ndarray, w: int, limit: int) -> np.ndarray | None:
    """Positions ``y * w + x`` where row ``y`` of the bool rows ``buf`` (``(h + 2) * w``, padded) differs from
    row ``y + 1``, in increasing order; None when there are more than ``limit``.

    Rows of a multiple of 8 bytes are compared 8 pixels at a time (uint64 words): only the few words that
    hold an edge are then looked at byte by byte, instead of scanning every pixel for the edges.
    """
    if w % 8:
        vertical = buf[w:] != buf[:-w]
        if np.count_nonzero(vertical) > limit:
            return None
        return vertical.nonzero()[0]
    words = buf.view(np.uint64)
    k = w // 8
    diff = words[k:] ^ words[:-k]  # byte j of word i: the edge at pixel 8 i + j (0 or 1)
    hit = (diff != 0).nonzero()[0]  # (numpy's nonzero is fastest on bools)
    if hit.size > limit:  # every such word holds at least one edge
        return None
    at = (diff.take(hit).view(np.uint8) != 0).nonzero()[0]  # 8 * (index in hit) + byte
    if at.size > limit:
        return None
    edges = hit.take(at >> 3)
    edges *= 8
    edges += at & 7
    return edges


# extract_foreground_runs reads a C-ordered mask row by row for column-major runs from this size on,
# when at most 1 in _ROWSCAN_RATIO pixels starts or ends a run (blob-like masks; measured crossover).
_ROWSCAN_MIN_SIZE = 128 * 128
_ROWSCAN_RATIO = 40


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
    # Fast path, sorted disjoint runs: edges 0, s0, e0, s1, e1, ..., n; their differences alternate
    # background gaps and run lengths, all >= 0 exactly when the runs are sorted, disjoint and inside.
    edges = np.empty(2 * r + 2, dtype=np.int64)
    edges[0] = 0
    edges[-1] = n
    edges[1:-1:2] = starts
    np.add(starts, lengths, out=edges[2:-1:2])
    reps = np.subtract(edges[1:], edges[:-1])  # np.diff, without its Python overhead
    if reps.min() >= 0:
        return _repeat_runs(reps, values, out_dtype), 0
    order = np.argsort(starts, kind="stable")
    s, ln = starts[order], lengths[order]
    ends = s + ln
    if not np.any(ends[:-1] > s[1:]):  # unsorted but disjoint
        edges[1:-1:2] = s
        edges[2:-1:2] = ends
        return _repeat_runs(np.subtract(edges[1:], edges[:-1]), values[order], out_dtype), 0
    flat = np.zeros(n, dtype=out_dtype)
    covered = np.zeros(n, dtype=np.bool_)
    overlaps = 0
    for start, length, value in zip(starts.tolist(), lengths.tolist(), values.tolist(), strict=True):
        overlaps += bool(covered[start : start + length].any())
        covered[start : start + length] = True
        flat[start : start + length] = value
    return flat, overlaps


def paint_labels(
    flattening: Flattening, starts: np.ndarray, lengths: np.ndarray, values: np.ndarray, dtype: np.dtype | type
) -> tuple[np.ndarray, int]:
    """Runs of ``flattening`` painted into a C-ordered label array of ``flattening.shape``.

    ``starts``, ``lengths``, ``values``: ``(R,)``, every run inside one line. Returns ``(labels, overlaps)``
    like :func:`paint_runs` followed by :meth:`Flattening.unflatten`. Column-major runs of a large 2-D array
    that are sorted and disjoint (every well-formed sequence) are painted without the strided transpose.
    """
    if flattening.axes == (1, 0) and flattening.size >= _COLUMNS_MIN_SIZE:
        labels = paint_columns(flattening.shape, starts, lengths, values, dtype)  # type: ignore[arg-type]
        if labels is not None:
            return labels, 0
    flat, overlaps = paint_runs(flattening.size, starts, lengths, values, dtype)
    return flattening.unflatten(flat), overlaps


def paint_columns(
    shape: tuple[int, int], starts: np.ndarray, lengths: np.ndarray, values: np.ndarray, dtype: np.dtype | type
) -> np.ndarray | None:
    """Column-major runs painted straight into a C-ordered ``(H, W)`` array, or None when the runs are not
    sorted and disjoint.

    ``starts``, ``lengths``, ``values``: ``(R,)``; every run lies inside one column. Painting the column-major
    vector and transposing it costs a strided copy several times the painting. Instead, each run's value is
    XOR-ed into its first row and into the row past its end, in a C-ordered ``(H + 1, W)`` array; a running
    XOR down the columns then gives every pixel its run's value (0 between runs: the runs of a column never
    overlap). The running XOR walks whole rows, 8 bytes at a time.
    """
    h, w = shape
    out_dtype = np.dtype(dtype)
    starts = np.asarray(starts, dtype=np.int64)
    ends = starts + np.asarray(lengths, dtype=np.int64)
    if starts.size > 1 and np.any(starts[1:] < ends[:-1]):
        return None
    edges = np.zeros((h + 1, w), dtype=out_dtype)
    x, y = np.divmod(starts, h)
    vals = np.asarray(values).astype(out_dtype, copy=False)
    flat = edges.reshape(-1)
    flat[y * w + x] = vals  # run starts are distinct
    y += ends - starts
    flat[y * w + x] ^= vals  # run ends are distinct too (an end may be the next run's start: XOR keeps both)
    row_bytes = w * out_dtype.itemsize
    word = next(b for b in (8, 4, 2, 1) if row_bytes % b == 0)
    rows = edges.view(np.dtype(f"u{word}"))  # (h + 1, row_bytes // word): the same bytes, fewer elements
    np.bitwise_xor.accumulate(rows, axis=0, out=rows)
    return edges[:h]


# paint_labels paints column-major runs straight into C order from this size on (measured: 0.7x at S = 80,
# even at S = 160, 1.9x at 320, 2.5-4.5x at 640; see benchmarks/bench_tokenizer.py).
_COLUMNS_MIN_SIZE = 192 * 192


def _repeat_runs(reps: np.ndarray, values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``(2R + 1,)`` alternating gap and run lengths, ``(R,)`` run values -> the painted vector."""
    vals = np.zeros(reps.size, dtype=dtype)
    vals[1::2] = values
    return np.repeat(vals, reps)


def runs_to_lines(starts: np.ndarray, line_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Split flat starts into ``(line index, offset in line)``; both ``(R,)`` int64."""
    return np.divmod(np.asarray(starts, dtype=np.int64), line_len)
