"""Track consistency: ground-truth instances whose matched predicted instance keeps its id between frames."""

from __future__ import annotations

import numpy as np
import pytest

from rleseg.metrics.tracks import matched_ids, track_consistency


def test_kept_ids_switched_ids_and_missed_instances() -> None:
    gt = np.zeros((3, 4, 4), np.int64)
    gt[:, :2, :2] = 1  # present in all frames
    gt[:2, 2:, 2:] = 2  # leaves after frame 1
    gt[2, 2:, :2] = 3  # enters at frame 2
    pred = np.zeros_like(gt)
    pred[:, :2, :2] = 7  # instance 1 keeps id 7
    pred[0, 2:, 2:] = 5
    pred[1, 2:, 2:] = 6  # instance 2 switches id
    pred[1, 2, 2] = 5  # a stray pixel keeps the old id: instance 6 still matches (IoU 3/4)
    pred[2, 2:, :2] = 9
    assert track_consistency(gt, pred) == (2, 3)  # pairs: 1 (0-1), 2 (0-1), 1 (1-2); kept: 1 twice
    missed = pred.copy()
    missed[:, :2, :2] = 0  # predicted as no instance in every frame: never kept
    assert track_consistency(gt, missed) == (0, 3)
    with pytest.raises(ValueError, match=r"\(T, H, W\) shape, got \(3, 4, 4\) and \(4, 4\)"):
        track_consistency(gt, pred[0])


def test_one_giant_instance_keeps_no_track() -> None:
    gt = np.zeros((2, 4, 4), np.int64)
    gt[:, :2, :2], gt[:, 2:, 2:] = 1, 2
    giant = np.ones_like(gt)  # one predicted instance over everything: IoU 4/16 with each cell
    assert matched_ids(gt[0], giant[0]) == {} and track_consistency(gt, giant) == (0, 2)
    assert track_consistency(gt, gt * 3) == (2, 2)
