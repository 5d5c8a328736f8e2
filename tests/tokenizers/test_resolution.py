"""Mask resolution helpers: nearest subsampling by an integer factor, upsampling back, and nearest resize."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rleseg.tokenizers.resolution import resize_nearest, subsample, upsample


@st.composite
def block_constant(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """A mask (with 0-2 leading axes) made of ``f x f`` constant blocks, and ``f``."""
    f = draw(st.integers(1, 5))
    lead = draw(st.lists(st.integers(1, 3), max_size=2))
    coarse = draw(
        hnp.arrays(np.int64, (*lead, draw(st.integers(1, 6)), draw(st.integers(1, 6))), elements=st.integers(0, 9))
    )
    return np.repeat(np.repeat(coarse, f, axis=-2), f, axis=-1), f


@given(block_constant())
def test_upsample_inverts_subsample_on_block_constant_masks(case) -> None:
    mask, f = case
    small = subsample(mask, f)
    assert small.shape == (*mask.shape[:-2], mask.shape[-2] // f, mask.shape[-1] // f)
    np.testing.assert_array_equal(upsample(small, f), mask)


@given(
    hnp.arrays(np.int64, hnp.array_shapes(min_dims=2, max_dims=4, max_side=6), elements=st.integers(0, 5)),
    st.integers(1, 4),
)
def test_subsample_inverts_upsample(mask: np.ndarray, f: int) -> None:
    big = upsample(mask, f)
    assert big.shape == (*mask.shape[:-2], mask.shape[-2] * f, mask.shape[-1] * f)
    assert big.dtype == mask.dtype
    np.testing.assert_array_equal(subsample(big, f), mask)


def test_subsample_takes_the_centre_pixel_of_each_cell() -> None:
    mask = np.arange(36).reshape(6, 6)
    np.testing.assert_array_equal(subsample(mask, 3), [[7, 10], [25, 28]])  # centres (1,1), (1,4), ...
    np.testing.assert_array_equal(subsample(mask, 2), mask[1::2, 1::2])  # lower-right centre for even f
    np.testing.assert_array_equal(subsample(mask, 1), mask)


def test_subsample_keeps_labels_and_dtype() -> None:
    mask = np.random.default_rng(0).integers(0, 3, size=(2, 8, 12)).astype(np.uint8)
    small = subsample(mask, 4)
    assert small.dtype == np.uint8 and small.shape == (2, 2, 3) and small.flags.c_contiguous
    assert set(np.unique(small)) <= set(np.unique(mask))


@pytest.mark.parametrize("factor", [0, -2, 1.5, True, "2"])
def test_bad_factors_are_refused(factor) -> None:
    mask = np.zeros((4, 4), dtype=np.int64)
    with pytest.raises(ValueError, match="factor must be a positive integer"):
        subsample(mask, factor)
    with pytest.raises(ValueError, match="factor must be a positive integer"):
        upsample(mask, factor)


def test_subsample_needs_divisible_sides() -> None:
    with pytest.raises(ValueError, match="divisible by factor 3"):
        subsample(np.zeros((6, 7), dtype=np.int64), 3)


@pytest.mark.parametrize("fn", [subsample, upsample])
def test_one_dimensional_input_is_refused(fn) -> None:
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fn(np.zeros(8, dtype=np.int64), 2)


@given(
    hnp.arrays(np.int64, hnp.array_shapes(min_dims=2, max_dims=3, max_side=9), elements=st.integers(0, 5)),
    st.integers(1, 12),
    st.integers(1, 12),
)
def test_resize_nearest_shapes_and_labels(mask: np.ndarray, oh: int, ow: int) -> None:
    out = resize_nearest(mask, (oh, ow))
    assert out.shape == (*mask.shape[:-2], oh, ow)
    assert out.dtype == mask.dtype
    assert set(np.unique(out)) <= set(np.unique(mask))
    np.testing.assert_array_equal(resize_nearest(mask, mask.shape[-2:]), mask)  # same size: identity


@given(block_constant())
def test_resize_nearest_agrees_with_integer_factors(case) -> None:
    mask, f = case
    h, w = mask.shape[-2:]
    np.testing.assert_array_equal(resize_nearest(mask, (h // f, w // f)), subsample(mask, f))
    small = subsample(mask, f)
    np.testing.assert_array_equal(resize_nearest(small, (h, w)), upsample(small, f))


def test_resize_nearest_non_integer_factor() -> None:
    mask = np.array([[1, 2, 3]])
    np.testing.assert_array_equal(resize_nearest(mask, (1, 2)), [[1, 3]])  # centres 0.75, 2.25
    np.testing.assert_array_equal(resize_nearest(mask, (2, 5)), [[1, 1, 2, 3, 3]] * 2)


@pytest.mark.parametrize("size", [(0, 4), (4, -1)])
def test_resize_nearest_refuses_empty_targets(size) -> None:
    with pytest.raises(ValueError, match="target size must be positive"):
        resize_nearest(np.zeros((4, 4), dtype=np.int64), size)
