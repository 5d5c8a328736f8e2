"""Per-image area-fraction errors: hand-worked examples, clips, ignored pixels, and a plain-loop reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rleseg.metrics import AreaFractionError, area_fraction_errors, area_fractions

# Image A, 16 pixels, 2 foreground classes:
#   GT A           pred A         class 1: GT 4/16, pred 6/16 -> |6 - 4| / 16 = 1/8
#   0 0 1 1        0 1 1 1        class 2: GT 3/16, pred 1/16 -> |1 - 3| / 16 = 1/8
#   0 0 1 1        0 1 1 1        all fg : GT 7/16, pred 7/16 -> 0  (not 1/8 + 1/8: errors of opposite
#   2 2 0 0        2 0 0 0                                           sign cancel once classes merge)
#   2 0 0 0        0 0 0 0
GT_A = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 0, 0], [2, 0, 0, 0]])
PRED_A = np.array([[0, 1, 1, 1], [0, 1, 1, 1], [2, 0, 0, 0], [0, 0, 0, 0]])
# Image B: empty GT, one pixel predicted as class 2 -> class 1: 0, class 2: 1/16, all: 1/16.
GT_B = np.zeros((4, 4), dtype=np.int64)
PRED_B = GT_B.copy()
PRED_B[3, 3] = 2
# Image C: perfect prediction -> 0 everywhere.
GT_C = PRED_C = GT_A


def test_single_image_by_hand() -> None:
    err = area_fraction_errors(GT_A, PRED_A, 2)
    assert err.shape == (1, 3)  # column 0 class-agnostic, then classes 1, 2
    np.testing.assert_allclose(err, [[0.0, 1 / 8, 1 / 8]])
    np.testing.assert_allclose(area_fractions(GT_A[None], 2), [[9 / 16, 4 / 16, 3 / 16]])


def test_accumulated_mean_and_median_by_hand() -> None:
    # Errors over the 3 images A, B, C:
    #   class 1: (1/8, 0, 0)       mean 1/24,  median 0
    #   class 2: (1/8, 1/16, 0)    mean 3/48 = 1/16, median 1/16
    #   all:     (0, 1/16, 0)      mean 1/48,  median 0
    acc = AreaFractionError(2)
    acc.update(GT_A, PRED_A)  # one (H, W) image
    acc.update(np.stack([GT_B, GT_C]), np.stack([PRED_B, PRED_C]))  # a 2-frame clip: two images
    assert acc.num_images == 3
    out = acc.compute(["ice", "water"])
    assert list(out) == ["ice", "water", "all"]
    assert out["ice"] == pytest.approx({"mean": 1 / 24, "median": 0.0})
    assert out["water"] == pytest.approx({"mean": 1 / 16, "median": 1 / 16})
    assert out["all"] == pytest.approx({"mean": 1 / 48, "median": 0.0})
    # the same images one at a time give the same errors, in order
    one = AreaFractionError(2)
    for g, p in ((GT_A, PRED_A), (GT_B, PRED_B), (GT_C, PRED_C)):
        one.update(g, p)
    np.testing.assert_array_equal(one.errors, acc.errors)
    assert one.compute() == acc.compute()  # default names "1", "2"


def test_even_count_median_averages_the_middle_pair() -> None:
    acc = AreaFractionError(1)
    acc.update(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [0, 0]]))  # 2/4 vs 1/4 -> 1/4
    acc.update(np.array([[1, 1], [1, 1]]), np.array([[1, 1], [1, 1]]))  # 0
    assert acc.compute(["ice"])["ice"] == pytest.approx({"mean": 1 / 8, "median": 1 / 8})


def test_ignored_pixels_leave_both_fractions() -> None:
    # 3 valid pixels (the 255 is ignored, and so is the 2 predicted on it):
    # class 1: GT 2/3, pred 3/3 -> 1/3; class 2: 0 vs 0 -> 0; all: 2/3 vs 3/3 -> 1/3
    gt = np.array([[0, 1], [255, 1]])
    pred = np.array([[1, 1], [2, 1]])
    np.testing.assert_allclose(area_fraction_errors(gt, pred, 2, ignore_index=255), [[1 / 3, 1 / 3, 0.0]])
    acc = AreaFractionError(2, ignore_index=255)
    acc.update(np.full((2, 2), 255), pred)  # every pixel ignored: counted, but no error
    assert acc.num_images == 1 and np.isnan(acc.errors).all()
    assert acc.compute()["all"] == {"mean": None, "median": None}
    acc.update(gt, pred)
    assert acc.compute()["1"] == pytest.approx({"mean": 1 / 3, "median": 1 / 3})


def test_empty_merge_reset_and_errors() -> None:
    acc = AreaFractionError(2)
    assert acc.num_images == 0 and acc.errors.shape == (0, 3)
    assert acc.compute(["a", "b"]) == {k: {"mean": None, "median": None} for k in ("a", "b", "all")}
    acc.update(GT_A, PRED_A)
    other = AreaFractionError(2)
    other.update(GT_B, PRED_B)
    acc.merge(other)
    assert acc.num_images == 2
    np.testing.assert_allclose(acc.errors[1], [1 / 16, 0.0, 1 / 16])
    acc.reset()
    assert acc.num_images == 0
    with pytest.raises(ValueError, match="named 'all'"):
        acc.compute(["ice", "all"])
    with pytest.raises(ValueError, match="2 foreground"):
        acc.compute(["ice"])
    with pytest.raises(ValueError, match="unique"):
        acc.compute(["ice", "ice"])
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        acc.update(np.zeros(4, int), np.zeros(4, int))
    with pytest.raises(ValueError, match="shape"):
        acc.update(np.zeros((2, 2), int), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="prediction holds label 3"):
        acc.update(GT_A, PRED_A + 1)
    with pytest.raises(ValueError, match="dtype"):
        acc.update(GT_A.astype(float), PRED_A)
    with pytest.raises(ValueError, match="merge"):
        acc.merge(AreaFractionError(3))


def test_against_plain_loops() -> None:
    rng = np.random.default_rng(1)
    c = 3
    gt = rng.integers(0, c + 1, size=(2, 3, 9, 11))  # (B, T, H, W): 6 images
    pred = np.where(rng.random(gt.shape) < 0.5, gt, rng.integers(0, c + 1, size=gt.shape))
    acc = AreaFractionError(c)
    acc.update(gt, pred)
    frames = list(zip(gt.reshape(-1, 9, 11), pred.reshape(-1, 9, 11), strict=True))

    def frac(x: np.ndarray, k: int) -> float:  # share of class k, or of all foreground for k = 0
        return float(np.mean(x > 0 if k == 0 else x == k))

    ref = {k: [abs(frac(p, k) - frac(g, k)) for g, p in frames] for k in range(c + 1)}
    out = acc.compute(["a", "b", "c"])
    for k, name in enumerate(["all", "a", "b", "c"]):
        vals = sorted(ref[k])
        assert out[name]["mean"] == pytest.approx(sum(vals) / 6)
        assert out[name]["median"] == pytest.approx((vals[2] + vals[3]) / 2)
        assert 0.0 <= out[name]["mean"] <= 1.0 and not math.isnan(out[name]["median"])
