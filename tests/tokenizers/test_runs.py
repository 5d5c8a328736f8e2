"""Run extraction and painting (runs.py) against a plain-Python reference, on every path and flattening."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rleseg.tokenizers import runs as runs_mod
from rleseg.tokenizers.runs import (
    Flattening,
    extract_foreground_runs,
    extract_runs,
    flattening_2d,
    flattening_video,
    paint_runs,
    runs_to_lines,
)


def reference_runs(flat: np.ndarray, line_len: int) -> tuple[list[int], list[int], list[int]]:
    """Runs of non-zero values, cut at line ends, one element at a time."""
    starts: list[int] = []
    lengths: list[int] = []
    values: list[int] = []
    prev = None
    for i, v in enumerate(int(x) for x in flat.tolist()):
        if v != 0 and v == prev and i % line_len != 0:
            lengths[-1] += 1
        elif v != 0:
            starts.append(i)
            lengths.append(1)
            values.append(v)
        prev = v
    return starts, lengths, values


def reference_paint(n: int, starts, lengths, values) -> tuple[np.ndarray, int]:
    """Paint in the given order, later runs winning; count runs that touch an already painted pixel."""
    flat = np.zeros(n, dtype=np.int64)
    covered = np.zeros(n, dtype=bool)
    overlaps = 0
    for s, ln, v in zip(starts, lengths, values, strict=True):
        overlaps += bool(covered[s : s + ln].any())
        covered[s : s + ln] = True
        flat[s : s + ln] = v
    return flat, overlaps


def labels_of(kind: str, shape: tuple[int, ...], rng: np.random.Generator, num_values: int = 3) -> np.ndarray:
    """``noisy`` (independent elements), ``runs`` (long runs, many crossing line ends), ``empty`` or ``full``."""
    n = int(np.prod(shape))
    if kind == "empty":
        return np.zeros(shape, np.int64)
    if kind == "full":
        return np.full(shape, int(rng.integers(1, num_values + 1)), np.int64)
    if kind == "noisy":
        return (rng.integers(1, num_values + 1, n) * (rng.random(n) < rng.random())).reshape(shape)
    flips = rng.random(n) < rng.uniform(0.01, 0.3)
    ids = np.cumsum(flips)
    palette = rng.integers(0, num_values + 1, ids[-1] + 1 if n else 1)
    return palette[ids].reshape(shape)


FLATTENINGS = [
    ("2d-row", lambda s: flattening_2d(s[-2:], "row"), 2),
    ("2d-col", lambda s: flattening_2d(s[-2:], "col"), 2),
    ("3dc-row", lambda s: flattening_video(s, "c", "row"), 3),
    ("3dc-col", lambda s: flattening_video(s, "c", "col"), 3),
    ("3df-row", lambda s: flattening_video(s, "f", "row"), 3),
    ("3df-col", lambda s: flattening_video(s, "f", "col"), 3),
]
FLAT_IDS = [f[0] for f in FLATTENINGS]
KINDS = ("noisy", "runs", "empty", "full")


@st.composite
def labelled(draw: st.DrawFn, ndim: int, max_side: int = 9) -> np.ndarray:
    shape = tuple(draw(st.integers(1, max_side)) for _ in range(ndim))
    kind = draw(st.sampled_from(KINDS))
    return labels_of(kind, shape, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))


def check_extract(flat: np.ndarray, line_len: int) -> None:
    starts, lengths, values = extract_runs(flat, line_len)
    for arr in (starts, lengths, values):
        assert arr.dtype == np.int64 and arr.ndim == 1
    ref = reference_runs(flat, line_len)
    assert (starts.tolist(), lengths.tolist(), values.tolist()) == ref


# ----- extract_runs ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "make", "ndim"), FLATTENINGS, ids=FLAT_IDS)
@settings(max_examples=60)
@given(data=st.data())
def test_extract_runs_matches_reference(name: str, make, ndim: int, data: st.DataObject) -> None:
    labels = data.draw(labelled(ndim))
    f = make(labels.shape)
    check_extract(f.flatten(labels), f.line_len)


@pytest.mark.parametrize("path", ["sparse", "dense"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64, np.bool_])
def test_extract_runs_both_paths_and_dtypes(path: str, kind: str, dtype: type, monkeypatch: pytest.MonkeyPatch) -> None:
    """The few-runs and many-runs paths give the same runs, for bool input too."""
    monkeypatch.setattr(runs_mod, "_DENSE_MIN_SIZE", 0)
    monkeypatch.setattr(runs_mod, "_DENSE_RATIO", 0 if path == "sparse" else 10**9)
    rng = np.random.default_rng(5)
    for shape in [(1, 1), (1, 9), (9, 1), (7, 13), (40, 40)]:
        labels = labels_of(kind, shape, rng, num_values=1 if dtype is np.bool_ else 3).astype(dtype)
        for order in ("row", "col"):
            f = flattening_2d(shape, order)
            check_extract(f.flatten(labels), f.line_len)


def test_extract_runs_default_threshold_takes_both_paths() -> None:
    rng = np.random.default_rng(0)
    noisy = (rng.random(100 * 100) < 0.5).astype(np.uint8)  # > 1 in 4 elements start a run
    check_extract(noisy, 100)
    blob = np.zeros(100 * 100, np.uint8)
    blob[2000:2600] = 1
    check_extract(blob, 100)


def test_extract_runs_empty_and_strided_input() -> None:
    starts, lengths, values = extract_runs(np.zeros(0, np.uint8), 4)
    assert starts.size == lengths.size == values.size == 0
    base = np.arange(40) % 3
    check_extract(base[::2], 5)  # a non-contiguous view


# ----- extract_foreground_runs -------------------------------------------------------------------------
def check_foreground(labels: np.ndarray, f: Flattening) -> None:
    starts, lengths = extract_foreground_runs(labels, f)
    assert starts.dtype == lengths.dtype == np.int64
    ref_s, ref_l, _ = reference_runs(f.flatten(labels != 0).astype(np.int64), f.line_len)
    assert starts.tolist() == ref_s and lengths.tolist() == ref_l


@pytest.mark.parametrize(("name", "make", "ndim"), FLATTENINGS, ids=FLAT_IDS)
@settings(max_examples=60)
@given(data=st.data())
def test_foreground_runs_match_reference(name: str, make, ndim: int, data: st.DataObject) -> None:
    labels = data.draw(labelled(ndim))
    f = make(labels.shape)
    check_foreground(labels, f)  # values > 1 count as foreground
    check_foreground(labels.astype(np.bool_), f)
    check_foreground(np.asfortranarray(labels.astype(np.uint8)), f)


@pytest.mark.parametrize("path", ["rows", "transpose"])
@pytest.mark.parametrize("kind", KINDS)
def test_foreground_runs_column_paths(path: str, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Column-major runs of a C-ordered mask: read row by row (sparse masks) or through a transpose."""
    monkeypatch.setattr(runs_mod, "_ROWSCAN_MIN_SIZE", 0)
    monkeypatch.setattr(runs_mod, "_ROWSCAN_RATIO", 0 if path == "rows" else 10**9)
    rng = np.random.default_rng(11)
    for shape in [(1, 1), (1, 6), (6, 1), (5, 8), (33, 17)]:
        labels = labels_of(kind, shape, rng)
        f = flattening_2d(shape, "col")
        check_foreground(labels, f)
        check_foreground(labels.astype(np.bool_), f)


def test_foreground_runs_default_threshold_on_large_masks() -> None:
    rng = np.random.default_rng(2)
    h, w = 150, 170  # above _ROWSCAN_MIN_SIZE
    blob = np.zeros((h, w), np.uint8)
    blob[20:90, 30:160] = 1
    blob[100:, :5] = 1
    for labels in (blob, labels_of("noisy", (h, w), rng)):
        for order in ("row", "col"):
            check_foreground(labels, flattening_2d((h, w), order))


def test_foreground_runs_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"labels have shape \(3, 4\), expected \(4, 3\)"):
        extract_foreground_runs(np.zeros((3, 4)), flattening_2d((4, 3), "row"))


# ----- paint_runs --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "make", "ndim"), FLATTENINGS, ids=FLAT_IDS)
@settings(max_examples=40)
@given(data=st.data())
def test_paint_inverts_extract(name: str, make, ndim: int, data: st.DataObject) -> None:
    labels = data.draw(labelled(ndim))
    f = make(labels.shape)
    starts, lengths, values = extract_runs(f.flatten(labels), f.line_len)
    flat, overlaps = paint_runs(f.size, starts, lengths, values, np.uint8)
    assert overlaps == 0 and flat.dtype == np.uint8
    np.testing.assert_array_equal(f.unflatten(flat), labels)
    perm = np.random.default_rng(0).permutation(starts.size)  # any run order paints the same
    flat2, overlaps2 = paint_runs(f.size, starts[perm], lengths[perm], values[perm])
    assert overlaps2 == 0 and flat2.dtype == np.int64
    np.testing.assert_array_equal(flat2, flat)


@settings(max_examples=200)
@given(
    n=st.integers(1, 30),
    runs=st.lists(st.tuples(st.integers(0, 29), st.integers(1, 6), st.integers(1, 4)), max_size=8),
)
def test_paint_overlapping_runs_later_wins(n: int, runs: list[tuple[int, int, int]]) -> None:
    runs = [(s, min(ln, n - s), v) for s, ln, v in runs if s < n]
    starts, lengths, values = (np.array([r[i] for r in runs], dtype=np.int64) for i in range(3))
    flat, overlaps = paint_runs(n, starts, lengths, values)
    ref, ref_overlaps = reference_paint(n, starts.tolist(), lengths.tolist(), values.tolist())
    np.testing.assert_array_equal(flat, ref)
    assert overlaps == ref_overlaps


def test_paint_edge_cases() -> None:
    flat, overlaps = paint_runs(5, np.zeros(0), np.zeros(0), np.zeros(0), np.uint8)
    assert flat.tolist() == [0] * 5 and overlaps == 0 and flat.dtype == np.uint8
    flat, _ = paint_runs(4, [0], [4], [2])  # lists are accepted
    assert flat.tolist() == [2, 2, 2, 2]
    flat, _ = paint_runs(6, np.array([4, 0]), np.array([2, 2]), np.array([True, True]), np.bool_)
    assert flat.tolist() == [True, True, False, False, True, True]
    flat, overlaps = paint_runs(6, np.array([0, 2, 1]), np.array([3, 2, 1]), np.array([1, 2, 3]))
    assert flat.tolist() == [1, 3, 2, 2, 0, 0] and overlaps == 2


# ----- Flattening --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "make", "ndim"), FLATTENINGS, ids=FLAT_IDS)
def test_flattening_sizes_and_inverse(name: str, make, ndim: int) -> None:
    shape = (2, 3, 5)[-ndim:]
    f = make(shape)
    labels = np.arange(int(np.prod(shape))).reshape(shape)
    flat = f.flatten(labels)
    assert flat.shape == (f.size,) and f.size == labels.size
    assert f.num_lines * f.line_len == f.size
    assert f.permuted_shape == tuple(shape[a] for a in f.axes)
    np.testing.assert_array_equal(flat, np.transpose(labels, f.axes).reshape(-1))
    back = f.unflatten(flat)
    np.testing.assert_array_equal(back, labels)
    assert back.flags.c_contiguous


def test_flattening_lines_and_equality() -> None:
    assert flattening_2d((3, 4), "row").line_len == 4
    assert flattening_2d((3, 4), "col").line_len == 3
    assert flattening_video((2, 3, 4), "f", "col").line_len == 6
    assert flattening_video((2, 3, 4), "f", "row").line_len == 8
    a, b = flattening_2d((3, 4), "col"), flattening_2d((3, 4), "col")
    _ = a.size, a.line_len, a.is_identity  # cached values must not change equality or hashing
    assert a == b and hash(a) == hash(b)
    assert flattening_2d((3, 4), "row").is_identity and not a.is_identity
    with pytest.raises(ValueError, match="not a permutation"):
        Flattening((3, 4), (0, 0))
    with pytest.raises(ValueError, match=r"line_axes must be in \[1, 2\]"):
        Flattening((3, 4), (0, 1), 3)
    with pytest.raises(ValueError, match="order must be 'row' or 'col'"):
        flattening_2d((3, 4), "diag")


def test_runs_to_lines() -> None:
    line, offset = runs_to_lines(np.array([0, 5, 9]), 4)
    assert line.tolist() == [0, 1, 2] and offset.tolist() == [0, 1, 1]


# ----- the binary tokenizer's in-place path ------------------------------------------------------------
@pytest.mark.parametrize("order", ["row", "col"])
@pytest.mark.parametrize("name", ["binary", "3d-c", "3d-f"])
def test_binary_fast_path_writes_the_codecs_tokens(name: str, order: str) -> None:
    """Binary (1-D start, length) schemes assemble tokens in place; they must equal the codecs' tokens."""
    from rleseg.tokenizers import create_tokenizer

    rng = np.random.default_rng(4)
    kw = {"num_frames": 2} if name != "binary" else {}
    tok = create_tokenizer(name, mask_size=(7, 9), order=order, **kw)
    for kind in KINDS:
        mask = (labels_of(kind, tok.mask_shape, rng) > 0).astype(np.uint8)
        starts, lengths, values = extract_runs(tok.flattening.flatten(mask), tok.flattening.line_len)
        cols = np.concatenate(
            [tok.start_codec.encode(starts, tok.vocab), tok.value_codec.encode(lengths, values, tok.vocab)], axis=1
        )
        for x in (mask, mask.astype(bool), mask.astype(np.int64)):
            tokens = tok.encode(x)
            np.testing.assert_array_equal(tokens[:-1], cols.reshape(-1))
            np.testing.assert_array_equal(tok.decode(tokens), mask)
