"""Stitching by construction: exact window predictions give the exact full mask for every rule and stride."""

from __future__ import annotations

import numpy as np
import pytest

from rleseg.data.patches import spatial_windows
from rleseg.inference import stitch
from rleseg.inference.stitch import MERGE_RULES, WindowMerger, merge_windows


def exact_windows(full: np.ndarray, patch: int, stride: int) -> list[tuple[np.ndarray, int, int]]:
    """Windows cut from ``full`` (padded with background past its edges), as a perfect model predicts them."""
    out = []
    h, w = full.shape
    for y, x in spatial_windows(h, w, patch, stride):
        win = np.zeros((patch, patch), full.dtype)
        part = full[y : y + patch, x : x + patch]
        win[: part.shape[0], : part.shape[1]] = part
        out.append((win, y, x))
    return out


@pytest.mark.parametrize("rule", MERGE_RULES)
@pytest.mark.parametrize("stride", [7, 16, 24, 32])
@pytest.mark.parametrize("shape", [(50, 70), (32, 32), (33, 95), (20, 10)])
def test_exact_windows_give_the_exact_mask(rule: str, stride: int, shape: tuple[int, int]) -> None:
    full = np.random.default_rng(0).integers(0, 4, size=shape)
    assert np.array_equal(merge_windows(exact_windows(full, 32, stride), shape, 3, rule), full)


def test_vote_takes_the_majority_and_latest_the_last() -> None:
    ones, twos = np.ones((4, 4), int), np.full((4, 4), 2)
    wins = [(ones, 0, 0), (ones, 0, 0), (twos, 0, 0)]
    assert (merge_windows(wins, (4, 4), 2, "vote") == 1).all()
    assert (merge_windows(wins, (4, 4), 2, "latest") == 2).all()
    assert (merge_windows(wins, (4, 4), 2, "max") == 2).all()
    assert (merge_windows(wins, (4, 4), 2, "min") == 1).all()


def test_fg_vote_keeps_objects_half_the_windows_found_with_their_most_voted_class() -> None:
    bg, c1, c2 = np.zeros((1, 5), int), np.ones((1, 5), int), np.full((1, 5), 2)
    # per pixel column: the labels of four windows
    wins = [(np.array([[0, 0, 1, 1, 0]]), 0, 0), (np.array([[0, 1, 2, 1, 0]]), 0, 0)]
    wins += [(np.array([[1, 0, 0, 2, 0]]), 0, 0), (np.array([[0, 1, 2, 2, 0]]), 0, 0)]
    fg = merge_windows(wins, (1, 5), 2, "fg-vote")
    vote = merge_windows(wins, (1, 5), 2, "vote")
    # col 0: 1 of 4 foreground -> background; col 1: 2 of 4 say class 1 -> 1 (a plain vote's tie: background);
    # col 2: class 2 twice, class 1 once -> 2; col 3: 1, 1, 2, 2 -> the tie goes to class 1; col 4: background
    assert fg.tolist() == [[0, 1, 2, 1, 0]]
    assert vote.tolist() == [[0, 0, 2, 1, 0]]
    # foreground split among classes still beats background when it has half the votes
    split = merge_windows([(bg, 0, 0), (c1, 0, 0), (c2, 0, 0), (bg, 0, 0), (c2, 0, 0)], (1, 5), 2, "fg-vote")
    assert (split == 2).all()
    assert (merge_windows([(bg, 0, 0), (bg, 0, 0), (c1, 0, 0)], (1, 5), 2, "fg-vote") == 0).all()


def test_fg_vote_weighs_each_class_s_votes_by_its_weight() -> None:
    wins = [(np.array([[1, 1, 0, 2]]), 0, 0), (np.array([[1, 1, 2, 2]]), 0, 0), (np.array([[2, 0, 2, 1]]), 0, 0)]
    # columns: 1, 1, 2 | 1, 1, 0 | 0, 2, 2 | 2, 2, 1
    assert merge_windows(wins, (1, 4), 2, "fg-vote").tolist() == [[1, 1, 2, 2]]
    weighted = merge_windows(wins, (1, 4), 2, "fg-vote", np.array([1.0, 1.0, 2.5]))
    assert weighted.tolist() == [[2, 1, 2, 2]], "2.5 x 1 vote beats 2 votes; no weight makes a second class"
    assert merge_windows(wins, (1, 4), 2, "fg-vote", np.array([1.0, 3.0, 1.0])).tolist() == [[1, 1, 2, 1]]
    with pytest.raises(ValueError, match=r"class weights must be \(3,\), one per label, got \(2,\)"):
        merge_windows(wins, (1, 4), 2, "fg-vote", np.array([1.0, 1.0]))


def test_uncovered_pixels_are_background_and_bad_input_is_refused() -> None:
    merger = WindowMerger((6, 6), 2, "max")
    merger.add(np.full((3, 3), 2), 0, 0)
    out = merger.result()
    assert (out[:3, :3] == 2).all() and (out[3:] == 0).all()
    with pytest.raises(ValueError, match="merge rule"):
        WindowMerger((4, 4), 2, "mean")
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        merger.add(np.full((2, 2), 5), 0, 0)


def test_clip_windows_merge_over_time() -> None:
    full = np.random.default_rng(1).integers(0, 3, size=(5, 20, 20))
    merger = WindowMerger(full.shape, 2, "vote")
    for t in (0, 2, 3):
        merger.add(full[t : t + 2], 0, 0, t)
    assert np.array_equal(merger.result(), full)


def test_average_merges_by_mean_probability_and_labels_alone_vote() -> None:
    merger = WindowMerger((2, 3), num_classes=2, rule="average")
    left = np.zeros((3, 2, 2), np.float32)
    left[1] = 0.6  # class 1 at 0.6, class 2 at 0.4 everywhere in the left window
    left[2] = 0.4
    right = np.zeros((3, 2, 2), np.float32)
    right[2] = 0.9  # class 2 at 0.9, class 1 at 0.1 in the right window
    right[1] = 0.1
    merger.add(left.argmax(0), 0, 0, probs=left)
    merger.add(right.argmax(0), 0, 1, probs=right)
    # column 1 is covered by both: mean class 1 = 0.35, class 2 = 0.65 -> 2; a vote would be a tie (1 wins)
    assert merger.result().tolist() == [[1, 2, 2], [1, 2, 2]]
    labels_only = WindowMerger((2, 3), num_classes=2, rule="average")
    voting = WindowMerger((2, 3), num_classes=2, rule="vote")
    for m in (labels_only, voting):
        m.add(np.array([[1, 1], [2, 2]]), 0, 0)
        m.add(np.array([[2, 0], [2, 0]]), 0, 1)
        m.add(np.array([[2, 0], [1, 0]]), 0, 1)
    assert np.array_equal(labels_only.result(), voting.result())
    with pytest.raises(ValueError, match="window probabilities must be"):
        merger.add(np.zeros((2, 2), np.int64), 0, 0, probs=np.zeros((2, 2, 2), np.float32))


@pytest.mark.parametrize("rule", MERGE_RULES)
@pytest.mark.parametrize("shape", [(23, 31), (3, 23, 31)])
def test_class_by_class_counting_equals_the_scatter(
    rule: str, shape: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(7)
    windows = [
        (rng.integers(0, 4, (*shape[:-2], 16, 16)), int(rng.integers(0, 20)), int(rng.integers(0, 28)))
        for _ in range(12)
    ]
    results = []
    for limit in (64, 0):  # one comparison per class / np.add.at for every class count
        monkeypatch.setattr(stitch, "ONE_HOT_MAX_CLASSES", limit)
        merger = WindowMerger(shape, 3, rule)
        for labels, y, x in windows:
            merger.add(labels, y, x)
        results.append(merger.result())
    assert results[0].dtype == np.int64 and results[0].shape == shape
    np.testing.assert_array_equal(results[0], results[1])
    assert results[0].max() > 0
