"""COCO run-length encoding (pycocotools' RLE dicts) <-> rleseg runs, masks and tokens.

A COCO RLE is ``{"size": [h, w], "counts": counts}`` for one binary ``(h, w)`` mask. ``counts`` lists run
lengths over the mask's column-major (Fortran) flattening, alternating background and foreground and
starting with background (a leading 0 when the first pixel is foreground); runs continue across column
ends. ``counts`` is either a list of ints ("uncompressed", e.g. COCO json crowd annotations) or
pycocotools' compressed string (``bytes``, or ``str`` once stored in json).

rleseg runs (see :mod:`rleseg.tokenizers.runs`) are ``(start, length)`` over the row-major or
column-major flattening and are cut at line ends. With ``order="col"`` the two describe the same pixels
in the same order, and only the cutting differs; ``order="row"`` goes through the mask.

Several classes are a dict ``{class_id: rle}`` (one binary RLE per class present), as in COCO
stuff/panoptic tools. Compression uses pycocotools' own C code (so bytes match ``pycocotools.mask.encode``
exactly); decompression is vectorised numpy, checked against pycocotools in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from rleseg.tokenizers import runs as _runs
from rleseg.tokenizers.runs import Flattening, extract_foreground_runs, extract_runs, flattening_2d, paint_runs

RLE = dict[str, Any]
CountsFormat = Literal["bytes", "str", "list"]

__all__ = [
    "RLE",
    "classes_to_coco",
    "coco_area",
    "coco_counts",
    "coco_to_classes",
    "coco_to_mask",
    "coco_to_runs",
    "coco_to_tokens",
    "compress_counts",
    "decompress_counts",
    "mask_to_coco",
    "runs_to_coco",
    "tokens_to_coco",
]


# ----- counts <-> compressed strings ------------------------------------------------------------------
def decompress_counts(s: bytes | bytearray | str) -> np.ndarray:
    """pycocotools' compressed counts string -> run lengths ``(K,)`` int64 (no size check).

    The format (pycocotools ``rleFrString``): each count is written in 5-bit groups, least significant
    first, as characters ``48 + group`` with bit 0x20 set on all groups but the last; bit 0x10 of the
    last group is the sign. From the fourth count on, each is stored as the difference to the count two
    places before it.
    """
    if isinstance(s, str):
        try:
            s = s.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("compressed COCO counts must be ASCII characters '0'..'o'") from None
    if not isinstance(s, (bytes, bytearray)):
        raise ValueError(f"compressed COCO counts must be bytes or str, got {type(s).__name__}")
    c = np.frombuffer(s, dtype=np.uint8) - np.uint8(48)  # bytes below '0' wrap around to > 63
    if c.size == 0:
        return np.zeros(0, dtype=np.int64)
    if c.max() > 63:
        bad = (int(c[c > 63][0]) + 48) & 0xFF
        raise ValueError(f"compressed COCO counts hold byte {bad} ({chr(bad)!r}); expected characters '0'..'o'")
    last = (c & 0x20) == 0  # the last 5-bit group of each value
    if not last[-1]:
        raise ValueError("compressed COCO counts end in the middle of a value (truncated string?)")
    ends = last.nonzero()[0]  # (K,)
    begins = np.empty_like(ends)
    begins[0] = 0
    begins[1:] = ends[:-1] + 1
    groups = ends - begins + 1  # 5-bit groups per value
    if int(groups.max()) > 12:  # 60 bits: far beyond any mask size, and int64 would overflow
        raise ValueError("compressed COCO counts hold a value too large for a mask size")
    k = np.arange(c.size)
    k -= np.repeat(begins, groups)  # position of each group in its value
    k *= 5
    x = np.add.reduceat((c & 0x1F).astype(np.int64) << k, begins)
    x -= ((c[ends] >> 4) & 1).astype(np.int64) << (5 * groups)  # sign bit set: x | (-1 << 5 * groups)
    # undo the differences: counts[m] = x[m] + counts[m - 2] for m > 2, i.e. running sums from index 1
    # (odd positions) and from index 2 (even positions)
    x[1::2] = np.cumsum(x[1::2])
    x[2::2] = np.cumsum(x[2::2])
    return x


def compress_counts(counts: np.ndarray | list[int], size: tuple[int, int]) -> bytes:
    """Run lengths ``(K,)`` of a mask of ``size`` (h, w) -> pycocotools' compressed string (its C code)."""
    arr = np.asarray(counts, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"COCO counts must be a flat list of integers, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > _UINT32_MAX):
        bad = int(arr.min()) if arr.min() < 0 else int(arr.max())
        raise ValueError(f"COCO counts must lie in [0, 2**32), got {bad}")
    h, w = _check_shape(size)
    return _compress(arr, h, w)


_UINT32_MAX = 2**32 - 1


def _compress(counts: np.ndarray, h: int, w: int) -> bytes:
    """Valid counts ``(K,)`` -> compressed string, with pycocotools' ``rleToString``."""
    from pycocotools import _mask

    return _mask.frPyObjects({"size": [h, w], "counts": counts.astype(np.uint32)}, h, w)["counts"]


# ----- reading an RLE dict ----------------------------------------------------------------------------
def _size(rle: Any) -> tuple[int, int]:
    if not isinstance(rle, Mapping) or "size" not in rle or "counts" not in rle:
        got = type(rle).__name__ if not isinstance(rle, Mapping) else f"a dict with keys {sorted(rle)}"
        raise ValueError(f"a COCO RLE must be a dict with 'size' [h, w] and 'counts', got {got}")
    size = rle["size"]
    if (
        not isinstance(size, (list, tuple, np.ndarray))
        or len(size) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in size)
    ):
        raise ValueError(f"COCO RLE 'size' must be [h, w], two integers >= 0, got {size!r}")
    return int(size[0]), int(size[1])


def coco_counts(rle: Mapping[str, Any]) -> tuple[tuple[int, int], np.ndarray]:
    """A COCO RLE dict (compressed or not) -> ``((h, w), counts)``, counts ``(K,)`` int64, checked.

    Raises ValueError when the dict is malformed or the counts do not cover exactly ``h * w`` pixels.
    """
    h, w = _size(rle)
    raw = rle["counts"]
    if isinstance(raw, (bytes, bytearray, str)):
        counts = decompress_counts(raw)
    elif isinstance(raw, (list, tuple, np.ndarray)):
        counts = np.asarray(raw)
        if counts.ndim != 1 or (counts.size and not np.issubdtype(counts.dtype, np.integer)):
            raise ValueError(f"uncompressed COCO counts must be a flat list of integers, got {_preview(raw)}")
        counts = counts.astype(np.int64, copy=False)
    else:
        raise ValueError(f"COCO RLE 'counts' must be a list of ints, bytes or str, got {type(raw).__name__}")
    if counts.size and counts.min() < 0:
        raise ValueError(f"COCO counts must be >= 0, got {int(counts.min())}")
    total = int(counts.sum())
    if total != h * w:
        raise ValueError(f"COCO counts sum to {total} pixels, expected h * w = {h} * {w} = {h * w}")
    return (h, w), counts


def _preview(x: Any, limit: int = 60) -> str:
    text = repr(x)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def coco_area(rle: Mapping[str, Any]) -> int:
    """Foreground pixel count of a COCO RLE (``pycocotools.mask.area``)."""
    _, counts = coco_counts(rle)
    return int(counts[1::2].sum())


# ----- runs <-> RLE -----------------------------------------------------------------------------------
def _check_shape(shape: Any) -> tuple[int, int]:
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in shape)
    ):
        raise ValueError(f"shape must be (h, w), two integers >= 0, got {shape!r}")
    return int(shape[0]), int(shape[1])


@lru_cache(maxsize=64)
def _flattening(h: int, w: int, order: str) -> Flattening:
    """``flattening_2d`` of ``(h, w)``, kept: its derived sizes are computed once per shape."""
    return flattening_2d((h, w), order)


def _check_order(order: str) -> None:
    if order not in ("row", "col"):
        raise ValueError(f"order must be 'row' or 'col', got {order!r}")


def _counts_from_col_runs(starts: np.ndarray, lengths: np.ndarray, n: int) -> np.ndarray:
    """Sorted, disjoint column-major runs (cut or not) -> canonical COCO counts ``(K,)``, as
    ``pycocotools.mask.encode`` writes them: runs that touch are merged and no trailing 0 is kept."""
    r = starts.size
    if r == 0:
        return np.array([n], dtype=np.int64)
    ends = starts + lengths
    touch = ends[:-1] == starts[1:]  # a run cut at a column end, continued at the next column's start
    if touch.any():
        keep_start = np.ones(r, dtype=np.bool_)
        keep_start[1:] = ~touch
        keep_end = np.ones(r, dtype=np.bool_)
        keep_end[:-1] = ~touch
        starts, ends = starts[keep_start], ends[keep_end]
        r = starts.size
    edges = np.empty(2 * r + 2, dtype=np.int64)
    edges[0] = 0
    edges[1:-1:2] = starts
    edges[2:-1:2] = ends
    edges[-1] = n
    counts = np.diff(edges)
    return counts[:-1] if counts[-1] == 0 else counts


def _format_counts(counts: np.ndarray, size: tuple[int, int], fmt: str) -> bytes | str | list[int]:
    if fmt == "list":
        return counts.tolist()
    if fmt not in ("bytes", "str"):
        raise ValueError(f"counts format must be 'bytes', 'str' or 'list', got {fmt!r}")
    s = _compress(counts, *size)
    return s.decode("ascii") if fmt == "str" else s


def _check_runs(starts: Any, lengths: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate run arrays: same length, lengths >= 1, inside [0, n), disjoint. Returns them sorted."""
    s = np.asarray(starts)
    ln = np.asarray(lengths)
    if s.ndim != 1 or ln.ndim != 1 or s.shape != ln.shape:
        raise ValueError(f"starts and lengths must be 1-D arrays of one length, got shapes {s.shape} and {ln.shape}")
    if s.size and not (np.issubdtype(s.dtype, np.integer) and np.issubdtype(ln.dtype, np.integer)):
        raise ValueError(f"starts and lengths must be integers, got {s.dtype} and {ln.dtype}")
    s, ln = s.astype(np.int64, copy=False), ln.astype(np.int64, copy=False)
    if s.size == 0:
        return s, ln
    if ln.min() < 1:
        raise ValueError(f"run lengths must be >= 1, got {int(ln.min())}")
    if s.min() < 0 or int((s + ln).max()) > n:
        i = int(np.flatnonzero((s < 0) | (s + ln > n))[0])
        raise ValueError(f"run (start {int(s[i])}, length {int(ln[i])}) lies outside the mask's {n} pixels")
    if np.any(s[1:] < s[:-1]):
        order = np.argsort(s, kind="stable")
        s, ln = s[order], ln[order]
    overlap = np.flatnonzero(s[:-1] + ln[:-1] > s[1:])
    if overlap.size:
        i = int(overlap[0])
        raise ValueError(f"runs overlap: (start {int(s[i])}, length {int(ln[i])}) and start {int(s[i + 1])}")
    return s, ln


def runs_to_coco(
    starts: np.ndarray,
    lengths: np.ndarray,
    shape: tuple[int, int],
    order: str = "col",
    *,
    counts: CountsFormat = "bytes",
) -> RLE:
    """Binary runs of an ``(h, w)`` mask -> COCO RLE dict.

    ``starts``, ``lengths``: ``(R,)`` integer arrays, 0-based starts over the ``order`` flattening
    (``"col"`` or ``"row"``), in any run order, disjoint (cut at line ends or not). ``counts``:
    ``"bytes"`` (compressed, as ``pycocotools.mask.encode`` returns), ``"str"`` (compressed, json-ready)
    or ``"list"`` (uncompressed). Returns ``{"size": [h, w], "counts": ...}``.
    """
    h, w = _check_shape(shape)
    _check_order(order)
    s, ln = _check_runs(starts, lengths, h * w)
    if order == "row" and s.size:  # re-read the pixels column by column
        flat, _ = paint_runs(h * w, s, ln, np.ones(s.size, dtype=np.bool_), np.bool_)
        s, ln = extract_foreground_runs(flat.reshape(h, w), _flattening(h, w, "col"))
    return {"size": [h, w], "counts": _format_counts(_counts_from_col_runs(s, ln, h * w), (h, w), counts)}


def _cut_at_lines(starts: np.ndarray, lengths: np.ndarray, line_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Split sorted runs ``(R,)`` at multiples of ``line_len``: each piece stays inside one line."""
    if starts.size == 0:
        return starts, lengths
    ends = starts + lengths
    first, last = starts // line_len, (ends - 1) // line_len
    pieces = last - first + 1
    if int(pieces.max()) == 1:
        return starts, lengths
    run = np.repeat(np.arange(starts.size), pieces)
    offsets = np.cumsum(pieces) - pieces
    line = first[run] + np.arange(run.size) - offsets[run]
    piece_starts = np.maximum(starts[run], line * line_len)
    piece_ends = np.minimum(ends[run], (line + 1) * line_len)
    return piece_starts, piece_ends - piece_starts


def coco_to_runs(rle: Mapping[str, Any], order: str = "col", *, cut: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """COCO RLE dict (compressed or not) -> binary runs ``(starts, lengths)``, two ``(R,)`` int64 arrays.

    Starts are 0-based over the ``order`` flattening (``"col"``: column-major, COCO's own order; ``"row"``:
    row-major) of the ``(h, w)`` mask, in increasing order. With ``cut=True`` runs are cut at line ends
    (columns for ``"col"``, rows for ``"row"``) as rleseg's tokenizers need; with ``cut=False`` they run on
    across lines as in COCO. Zero-length counts are skipped and touching runs merged.
    """
    _check_order(order)
    (h, w), counts = coco_counts(rle)
    n = h * w
    starts, lengths = _foreground_runs(counts)
    if order == "col":
        return _cut_at_lines(starts, lengths, h) if cut else (starts, lengths)
    flat, _ = paint_runs(n, starts, lengths, np.ones(starts.size, dtype=np.bool_), np.bool_)
    s, ln = extract_foreground_runs(flat.reshape(w, h).T, _flattening(h, w, "row"))
    return (s, ln) if cut else _merge_touching(s, ln)


def _foreground_runs(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO counts ``(K,)`` -> column-major foreground runs ``(starts, lengths)``, uncut, sorted, touching
    runs merged (zero-length counts skipped)."""
    bounds = np.concatenate([[0], np.cumsum(counts)])
    starts, ends = bounds[1:-1:2], bounds[2::2]  # foreground runs: the odd counts
    keep = ends > starts
    return _merge_touching(starts[keep], (ends - starts)[keep])  # zero background counts


def _merge_touching(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge sorted runs where one ends exactly where the next starts."""
    if starts.size < 2:
        return starts, lengths
    ends = starts + lengths
    touch = ends[:-1] == starts[1:]
    if not touch.any():
        return starts, lengths
    new_starts = starts[np.concatenate([[True], ~touch])]
    new_ends = ends[np.concatenate([~touch, [True]])]
    return new_starts, new_ends - new_starts


# ----- masks <-> RLE ----------------------------------------------------------------------------------
def _check_mask_2d(mask: Any, what: str = "mask") -> np.ndarray:
    if hasattr(mask, "detach") and hasattr(mask, "cpu"):
        mask = mask.detach().cpu().numpy()  # a torch tensor
    if not isinstance(mask, np.ndarray):
        raise ValueError(f"{what} must be a numpy array of shape (h, w), got {type(mask).__name__}")
    if mask.ndim != 2:
        raise ValueError(f"{what} must have shape (h, w), got shape {mask.shape}")
    if mask.dtype != np.bool_ and not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(f"{what} must have an integer or bool dtype, got {mask.dtype}")
    return mask


def mask_to_coco(mask: np.ndarray, *, counts: CountsFormat = "bytes") -> RLE:
    """Binary ``(h, w)`` mask (bool, or integers 0/1; any memory order) -> COCO RLE dict.

    With ``counts="bytes"`` the result equals ``pycocotools.mask.encode(np.asfortranarray(mask))``.
    Multi-class masks: :func:`classes_to_coco`.
    """
    mask = _check_mask_2d(mask)
    if mask.dtype != np.bool_ and mask.size:
        lo, hi = 0 if mask.dtype.kind == "u" else int(mask.min()), int(mask.max())
        if lo < 0 or hi > 1:
            raise ValueError(
                f"mask_to_coco takes a binary mask (values 0 and 1), got value {lo if lo < 0 else hi}; "
                "use classes_to_coco for a multi-class mask"
            )
    h, w = mask.shape
    if mask.size == 0:
        return {"size": [h, w], "counts": _format_counts(np.zeros(1, dtype=np.int64), (h, w), counts)}
    return {"size": [h, w], "counts": _format_counts(_binary_counts(mask), (h, w), counts)}


def _binary_counts(mask: np.ndarray) -> np.ndarray:
    """Canonical COCO counts ``(K,)`` of a non-empty 0/1 (or bool) ``(h, w)`` mask."""
    h, w = mask.shape
    n = h * w
    if n >= _runs._ROWSCAN_MIN_SIZE and mask.flags.c_contiguous:  # large C-ordered: skip the transpose
        starts, lengths = extract_foreground_runs(mask, _flattening(h, w, "col"))
        return _counts_from_col_runs(starts, lengths, n)
    # The column-major vector between two False pads: runs start and end where neighbours differ.
    buf = np.zeros(n + 2, dtype=np.bool_)
    buf[1:-1].reshape(w, h)[...] = mask.T
    found = (buf[1:] != buf[:-1]).nonzero()[0]  # (2R,) s0, e0, s1, e1 ...
    k = found.size
    edges = np.empty(k + 2, dtype=np.int64)
    edges[0] = 0
    edges[1 : k + 1] = found
    edges[k + 1] = n
    counts = edges[1 : k + 2] - edges[: k + 1]
    return counts[:-1] if k and counts[-1] == 0 else counts


# coco_to_mask paints column runs straight into C order when at most 1 in _FEW_RUNS_RATIO pixels starts a
# count (measured at S = 640: 1.8x pycocotools on blobs; with many runs, cutting them at columns costs more)
_FEW_RUNS_RATIO = 40


def coco_to_mask(rle: Mapping[str, Any]) -> np.ndarray:
    """COCO RLE dict (compressed or not) -> ``(h, w)`` uint8 mask of 0/1, C-ordered
    (``pycocotools.mask.decode`` gives the same values in Fortran order)."""
    (h, w), counts = coco_counts(rle)
    if h * w >= _runs._COLUMNS_MIN_SIZE and counts.size * _FEW_RUNS_RATIO <= h * w:
        # a large mask of few runs (blob-like): paint the runs of each column straight into C order
        starts, lengths = _cut_at_lines(*_foreground_runs(counts), h)
        mask = _runs.paint_columns((h, w), starts, lengths, np.ones(starts.size, dtype=np.uint8), np.uint8)
        if mask is not None:  # always: the runs are sorted, disjoint and cut at column ends
            return mask
    values = np.zeros(counts.size, dtype=np.uint8)
    values[1::2] = 1  # counts alternate background and foreground
    return np.ascontiguousarray(np.repeat(values, counts).reshape(w, h).T)


def classes_to_coco(
    mask: np.ndarray, classes: list[int] | None = None, *, counts: CountsFormat = "bytes"
) -> dict[int, RLE]:
    """Multi-class ``(h, w)`` mask (0 background, classes 1..C) -> ``{class_id: rle}``, one binary RLE
    per class, in increasing class order.

    ``classes``: the class ids to write (an RLE with no foreground for an absent one); default: every
    non-zero value present in the mask.
    """
    mask = _check_mask_2d(mask)
    h, w = mask.shape
    if mask.size and int(mask.min()) < 0:
        raise ValueError(f"class masks hold values >= 0 (0 is background), got {int(mask.min())}")
    # One pass: runs of every value over the column-major vector, never cut (line_len = h * w).
    flat = mask.T.reshape(-1)
    starts, lengths, values = extract_runs(flat, max(flat.size, 1))
    if classes is None:
        wanted = np.unique(values).tolist()
    else:
        wanted = sorted({int(c) for c in classes})
        if any(c < 1 for c in wanted):
            raise ValueError(f"class ids must be >= 1 (0 is background), got {wanted}")
    out: dict[int, RLE] = {}
    for c in wanted:
        sel = values == c  # runs of one value never touch in an uncut extraction: already canonical
        cc = _counts_from_col_runs(starts[sel], lengths[sel], h * w)
        out[int(c)] = {"size": [h, w], "counts": _format_counts(cc, (h, w), counts)}
    return out


def coco_to_classes(rles: Mapping[int, Mapping[str, Any]], shape: tuple[int, int] | None = None) -> np.ndarray:
    """``{class_id: rle}`` -> ``(h, w)`` class mask (uint8 for ids up to 255), 0 where no RLE covers a pixel.

    All RLEs must have the same size (``shape`` too, when given; it is needed when ``rles`` is empty).
    Where RLEs overlap, the largest class id wins.
    """
    if not isinstance(rles, Mapping):
        raise ValueError(f"expected a dict {{class_id: rle}}, got {type(rles).__name__}")
    size = None if shape is None else _check_shape(shape)
    runs = []
    for cid in sorted(rles):
        if isinstance(cid, bool) or not isinstance(cid, (int, np.integer)) or cid < 1:
            raise ValueError(f"class ids must be integers >= 1 (0 is background), got {cid!r}")
        this = _size(rles[cid])
        if size is None:
            size = this
        elif this != size:
            raise ValueError(f"RLE of class {cid} has size {list(this)}, expected {list(size)}")
        s, ln = coco_to_runs(rles[cid], "col", cut=False)
        runs.append((s, ln, np.full(s.size, int(cid), dtype=np.int64)))
    if size is None:
        raise ValueError("coco_to_classes needs shape=(h, w) when there are no RLEs")
    h, w = size
    from rleseg.tokenizers.flat import mask_dtype

    dtype = mask_dtype(max(rles, default=1))
    if not runs:
        return np.zeros((h, w), dtype=dtype)
    starts, lengths, values = (np.concatenate(parts) for parts in zip(*runs, strict=True))
    flat, _ = paint_runs(h * w, starts, lengths, values, dtype)  # later (larger) classes paint over
    return np.ascontiguousarray(flat.reshape(w, h).T)


# ----- tokens <-> RLE ---------------------------------------------------------------------------------
def coco_to_tokens(rle: Mapping[Any, Any], tokenizer: Any) -> np.ndarray:
    """A COCO RLE (binary tokenizers) or ``{class_id: rle}`` (multi-class ones) -> the tokenizer's tokens.

    The mask must already have the tokenizer's size ``(H, W)``; static schemes only.
    """
    if "counts" in rle:
        mask = coco_to_mask(rle)
    else:  # {class_id: rle}; an empty dict is an empty mask of the tokenizer's size
        mask = coco_to_classes(rle, tuple(tokenizer.mask_shape) if len(tokenizer.mask_shape) == 2 else None)
    if tokenizer.num_classes == 1 and mask.size and int(mask.max()) > 1:
        raise ValueError(f"{tokenizer.name} is binary but the RLEs hold class {int(mask.max())}")
    if mask.shape != tuple(tokenizer.mask_shape):
        raise ValueError(
            f"the RLE has size {list(mask.shape)}, expected the tokenizer's mask size {list(tokenizer.mask_shape)}; "
            "resize or subsample the mask first"
        )
    return tokenizer.encode(mask)


def tokens_to_coco(tokens: Any, tokenizer: Any, *, counts: CountsFormat = "bytes") -> RLE | dict[int, RLE]:
    """Tokens -> a COCO RLE (binary tokenizers) or ``{class_id: rle}`` (multi-class; classes present).

    Static schemes only (``(H, W)`` masks); decoding never raises, see ``Tokenizer.decode``.
    """
    if tokenizer.instance_aware or len(tokenizer.mask_shape) != 2:
        raise ValueError(f"tokens_to_coco needs a static class-mask scheme, got {tokenizer.name}")
    mask = tokenizer.decode(tokens)
    if tokenizer.num_classes == 1:
        return mask_to_coco(mask, counts=counts)
    return classes_to_coco(mask, counts=counts)
