"""The column-major fast paths of runs.py: runs painted straight into C order (``paint_columns``) give
exactly what painting the column-major vector and transposing it gives (``paint_labels`` picks that path
only when it applies), and the vertical edges found 8 pixels at a time are exactly the pixel-wise ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rleseg.tokenizers import runs as runs_mod
from rleseg.tokenizers.runs import (
    _vertical_edges,
    extract_runs,
    flattening_2d,
    paint_columns,
    paint_labels,
    paint_runs,
)


def _reference(
    shape: tuple[int, int], starts: np.ndarray, lengths: np.ndarray, values: np.ndarray, dtype: type
) -> np.ndarray:
    flat, _ = paint_runs(shape[0] * shape[1], starts, lengths, values, dtype)
    return flattening_2d(shape, "col").unflatten(flat)


@settings(max_examples=300, deadline=None)
@given(
    h=st.integers(1, 23),
    w=st.integers(1, 23),
    dtype=st.sampled_from([np.uint8, np.uint16, np.int32, np.int64]),
    seed=st.integers(0, 2**32 - 1),
    density=st.floats(0.0, 1.0),
)
def test_painting_columns_equals_painting_then_transposing(
    h: int, w: int, dtype: type, seed: int, density: float
) -> None:
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random((h, w)) < density, rng.integers(1, 6, (h, w)), 0)  # touching runs of other values
    starts, lengths, values = extract_runs(flattening_2d((h, w), "col").flatten(labels), h)
    out = paint_columns((h, w), starts, lengths, values, dtype)
    assert out is not None and out.dtype == dtype and out.flags.c_contiguous
    np.testing.assert_array_equal(out, labels)
    np.testing.assert_array_equal(out, _reference((h, w), starts, lengths, values, dtype))


def test_unsorted_or_overlapping_runs_are_left_to_the_general_painter() -> None:
    starts, lengths, values = np.array([4, 0]), np.array([2, 2]), np.array([1, 2])
    assert paint_columns((4, 3), starts, lengths, values, np.uint8) is None  # unsorted
    assert paint_columns((4, 3), np.array([0, 1]), np.array([3, 2]), values, np.uint8) is None  # overlapping


@pytest.mark.parametrize("order", ["row", "col"])
def test_paint_labels_takes_either_path_with_the_same_result(order: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    shape = (40, 24)
    f = flattening_2d(shape, order)
    labels = np.where(rng.random(shape) < 0.3, rng.integers(1, 4, shape), 0)
    starts, lengths, values = extract_runs(f.flatten(labels), f.line_len)
    expected, _ = paint_runs(f.size, starts, lengths, values, np.uint8)
    for min_size in (1, 10**9):  # the direct path allowed for every size / for none
        monkeypatch.setattr(runs_mod, "_COLUMNS_MIN_SIZE", min_size)
        out, overlaps = paint_labels(f, starts, lengths, values, np.uint8)
        assert overlaps == 0 and out.flags.c_contiguous
        np.testing.assert_array_equal(out, f.unflatten(expected))
        np.testing.assert_array_equal(out, labels)
    monkeypatch.setattr(runs_mod, "_COLUMNS_MIN_SIZE", 1)
    out, overlaps = paint_labels(f, np.array([0, 1]), np.array([3, 2]), np.array([1, 2]), np.uint8)  # overlap
    assert overlaps == 1 and out.flat[f.flatten(np.arange(f.size).reshape(shape))[:3]].tolist() == [1, 2, 2]


@settings(max_examples=200, deadline=None)
@given(h=st.integers(1, 20), w=st.integers(1, 40), seed=st.integers(0, 2**32 - 1), density=st.floats(0.0, 1.0))
def test_vertical_edges_equal_the_pixelwise_ones(h: int, w: int, seed: int, density: float) -> None:
    rng = np.random.default_rng(seed)
    buf = np.zeros((h + 2) * w, dtype=np.bool_)
    buf[w:-w] = rng.random(h * w) < density
    expected = (buf[w:] != buf[:-w]).nonzero()[0]
    np.testing.assert_array_equal(_vertical_edges(buf, w, (h + 1) * w), expected)
    if expected.size:
        assert _vertical_edges(buf, w, expected.size - 1) is None  # more edges than the limit
        assert _vertical_edges(buf, w, expected.size) is not None
