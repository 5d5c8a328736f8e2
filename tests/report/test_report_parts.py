"""The report's parts: per-image scores by hand, the bounded worst-first gallery, sequence-length statistics
(and ground-truth window lengths equal to encoding each window directly), and the charts as PNG bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from rleseg.data.sample import Sample
from rleseg.report import charts
from rleseg.report.gallery import Gallery, image_score
from rleseg.report.seqlen import summarize_lengths, target_lengths
from rleseg.tokenizers import create_tokenizer


def test_image_score_by_hand() -> None:
    gt = np.array([[1, 1, 0, 0], [2, 2, 0, 0]])
    pred = np.array([[1, 0, 0, 0], [2, 2, 2, 0]])
    # class 1: |G|=2, |P|=1, tp=1 -> 2/3; class 2: |G|=2, |P|=3, tp=2 -> 4/5; 2 of 8 pixels wrong
    s = image_score(gt, pred, 2)
    assert s.dice == pytest.approx((2 / 3 + 4 / 5) / 2) and s.pixel_error == pytest.approx(2 / 8) and s.classes == 2
    empty = np.zeros((3, 3), np.int64)
    assert image_score(empty, empty, 2).dice == 1.0, "nothing to find and nothing found"
    assert image_score(empty, np.eye(3, dtype=np.int64), 2).dice == 0.0, "only false positives"
    with pytest.raises(ValueError, match="labels must be in"):
        image_score(gt, pred + 1, 2)


def test_gallery_keeps_the_worst_in_order_whatever_the_arrival_order() -> None:
    rng = np.random.default_rng(1)
    gallery = Gallery(1, keep=4)
    errors = rng.permutation(12)  # image k has errors[k] wrong rows of 12
    for k, e in enumerate(errors):
        gt = np.ones((12, 6), np.int64)
        pred = gt.copy()
        pred[:e] = 0
        gallery.add(f"img_{k}", gt, pred, None)
    kept = gallery.items()
    assert gallery.seen == 12 and len(kept) == 4
    assert [int(errors[int(i.name.split("_")[1])]) for i in kept] == [11, 10, 9, 8]
    assert [i.score.dice for i in kept] == sorted(i.score.dice for i in kept)


def test_gallery_shrinks_large_images_and_keep_zero_keeps_nothing() -> None:
    gallery = Gallery(2, keep=1)
    gt = np.zeros((600, 300), np.int64)
    gallery.add("big", gt, gt, np.zeros((600, 300, 3), np.uint8))
    strip = gallery.items()[0].strip
    assert strip.shape[0] == 256 and strip.shape[1] == 3 * 128 + 8
    none = Gallery(2, keep=0)
    none.add("x", gt, gt, None)
    assert none.items() == [] and none.seen == 1


def test_summarize_lengths_by_hand() -> None:
    s = summarize_lengths(np.array([4, 8, 8, 20]), budget=8)
    assert (s.windows, s.mean, s.median, s.max) == (4, 10.0, 8.0, 20)
    assert s.at_budget == 0.75, "lengths >= L: the model reached the budget"
    assert summarize_lengths(np.array([4, 8, 8, 20]), budget=8, over_only=True).at_budget == 0.25
    assert summarize_lengths(np.array([], np.int64), 8).mean is None


def test_target_lengths_equal_encoding_each_window() -> None:
    tok = create_tokenizer("lac", mask_size=4, num_classes=2, max_len=6)
    rng = np.random.default_rng(2)
    mask = rng.integers(0, 3, (12, 8))
    sample = Sample(np.zeros((12, 8, 3), np.uint8), mask, None, "s")
    # windows of P=8 at stride 8: (0, 0) and (4, 0) (the last shifted back); S=4 takes every second pixel
    got = target_lengths(sample, tok, image_size=None, patch_size=8, stride=8)
    expected = [tok.encode(mask[y : y + 8, :8][1::2, 1::2], return_info=True)[1].full_length for y in (0, 4)]
    assert got.tolist() == expected and max(expected) > 6, "uncut lengths, beyond the budget"


def test_target_lengths_refuse_a_video_for_an_image_tokenizer() -> None:
    tok = create_tokenizer("lac", mask_size=4, num_classes=1)
    clip = Sample(np.zeros((2, 4, 4, 3), np.uint8), np.zeros((2, 4, 4), np.int64), None, "clip")
    with pytest.raises(ValueError, match="clip: lac is an image tokenizer"):
        target_lengths(clip, tok, image_size=None, patch_size=None, stride=None)


def _png_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.size


def test_charts_are_pngs_and_check_their_input() -> None:
    rows = {"a": {"recall": 0.5, "precision": None, "dice": 1.0}, "b": {"recall": 0.1, "precision": 0.2, "dice": 0.3}}
    w, h = _png_size(charts.grouped_bars(rows, [("recall", "r"), ("precision", "p"), ("dice", "d")], "t"))
    assert w > h > 100
    assert min(_png_size(charts.confusion_heatmap(np.array([[5, 1], [0, 0]]), ["bg", "a"]))) > 100
    assert min(_png_size(charts.length_histogram(np.array([3, 4]), np.zeros(0, np.int64), 8))) > 100
    with pytest.raises(ValueError, match="does not fit 3 labels"):
        charts.confusion_heatmap(np.eye(2, dtype=np.int64), ["bg", "a", "b"])
    with pytest.raises(ValueError, match="no rows"):
        charts.grouped_bars({}, [("recall", "r")], "empty")
    with pytest.raises(ValueError, match="no sequence lengths"):
        charts.length_histogram(np.zeros(0, np.int64), np.zeros(0, np.int64), 8)
