"""Stitching instance ids of overlapping windows: a cell seen by two windows keeps one id, distinct cells keep
distinct ids, and each pixel comes from the window whose centre is nearest."""

from __future__ import annotations

import numpy as np
import pytest

from rleseg.inference.instance_canvas import InstanceCanvas, centre_distance, match_ids, vote_instance_classes
from rleseg.metrics.panoptic import PanopticQuality


def two_cells() -> np.ndarray:
    """A 12 x 20 instance mask: cell 1 across the middle columns (seen by both windows), cell 2 on the right."""
    gt = np.zeros((12, 20), np.int64)
    gt[2:8, 7:13] = 1
    gt[3:9, 15:19] = 2
    return gt


def windows(gt: np.ndarray, relabel: dict[int, int], x: int) -> np.ndarray:
    """The 12 x 12 window of ``gt`` at column ``x`` with its ids renamed (each window numbers on its own)."""
    out = np.zeros((12, 12), np.int64)
    crop = gt[:, x : x + 12]
    for old, new in relabel.items():
        out[crop == old] = new
    return out


def test_a_cell_across_two_windows_keeps_one_id_and_distinct_cells_stay_distinct() -> None:
    gt = two_cells()
    canvas = InstanceCanvas(gt.shape)
    canvas.paste(windows(gt, {1: 1}, 0), 0, 0)  # sees the left part of cell 1 only
    canvas.paste(windows(gt, {1: 2, 2: 1}, 8), 0, 8)  # sees all of cell 1 (as id 2) and cell 2 (as id 1)
    out = canvas.canvas
    assert np.array_equal(out > 0, gt > 0)
    assert np.unique(out[gt == 1]).size == 1, "cell 1 is one instance, not one per window"
    assert np.unique(out[gt == 2]).size == 1
    assert out[gt == 1][0] != out[gt == 2][0], "window 2's id 1 is not window 1's id 1"
    pq = PanopticQuality(1)
    pq.update(gt > 0, gt, out > 0, out)
    assert pq.compute()["pq"] == 1.0


def test_instances_of_windows_that_do_not_overlap_never_share_an_id() -> None:
    canvas = InstanceCanvas((8, 16))
    cell = np.zeros((8, 8), np.int64)
    cell[2:5, 2:5] = 1
    canvas.paste(cell, 0, 0)
    canvas.paste(cell, 0, 8)
    assert sorted(np.unique(canvas.canvas).tolist()) == [0, 1, 2]


def test_a_cell_cut_off_by_one_window_is_taken_whole_from_the_window_that_saw_it_whole() -> None:
    gt = np.zeros((10, 20), np.int64)
    gt[3:7, 6:12] = 1
    canvas = InstanceCanvas(gt.shape)
    first = np.zeros((10, 10), np.int64)
    first[2:8, 6:10] = 1  # cut off at the window's right edge, and too tall
    canvas.paste(first, 0, 0)
    second = gt[:, 5:15].copy() * 4  # the whole cell, with the window's own id
    canvas.paste(second, 0, 5)
    out = canvas.canvas
    assert np.unique(out[gt == 1]).tolist() == [1], "matched to the first window's id"
    assert (out[3:7, 6:12] == 1).all()
    # the first window's extra rows stay (background never erases an instance) with the same id
    assert set(np.unique(out).tolist()) == {0, 1}


def test_among_instances_the_one_nearest_its_window_centre_paints() -> None:
    canvas = InstanceCanvas((8, 16))
    off_centre = np.zeros((8, 8), np.int64)
    off_centre[:, 5:7] = 1  # a column 2 pixels right of the centre, touching the window's top and bottom
    canvas.paste(off_centre, 0, 0)
    central = np.zeros((8, 8), np.int64)
    central[2:6, 1:7] = 1  # covers part of it (rows 2-5 of canvas columns 5 and 6), centred in its window
    canvas.paste(central, 0, 4)  # IoU 8 / 20 within the covered part: a different instance, id 2
    assert canvas.window_ids == [{1: 1}, {1: 2}]
    assert (canvas.canvas[2:6, 5:11] == 2).all()
    assert (canvas.canvas[[0, 1, 6, 7]][:, 5:7] == 1).all(), "the rest of the first instance stays"
    assert centre_distance((1, 8))[0].tolist() == [3.5, 2.5, 1.5, 0.5, 0.5, 1.5, 2.5, 3.5]


def test_background_never_erases_an_instance_pixel() -> None:
    canvas = InstanceCanvas((4, 12))
    canvas.paste(np.full((4, 8), 3), 0, 0)
    canvas.paste(np.zeros((4, 8), np.int64), 0, 4)
    assert canvas.canvas[0].tolist() == [1] * 8 + [0] * 4
    assert canvas.window_ids == [{3: 1}, {}]


def test_the_same_id_in_windows_that_do_not_overlap_names_two_instances() -> None:
    canvas = InstanceCanvas((2, 4, 8))
    clip = np.full((2, 4, 4), 5)
    canvas.paste(clip, 0, 0)
    canvas.paste(clip, 0, 4)
    assert canvas.window_ids == [{5: 1}, {5: 2}]
    assert (canvas.canvas[..., :4] == 1).all() and (canvas.canvas[..., 4:] == 2).all()


def test_clips_are_matched_as_volumes() -> None:
    canvas = InstanceCanvas((2, 4, 12))
    a = np.zeros((2, 4, 8), np.int64)
    a[:, 1:3, 4:8] = 1
    b = np.zeros((2, 4, 8), np.int64)
    b[:, 1:3, 0:6] = 4  # the same cell, continued, with the window's own id
    canvas.paste(a, 0, 0)
    canvas.paste(b, 0, 4)
    assert np.unique(canvas.canvas[canvas.canvas > 0]).tolist() == [1]
    assert (canvas.canvas[:, 1:3, 4:10] == 1).all()


def test_match_ids_is_one_to_one_and_above_the_threshold() -> None:
    new = np.array([[1, 1, 2, 2, 3]])
    old = np.array([[7, 7, 7, 7, 0]])
    covered = np.ones_like(new, bool)
    assert match_ids(new, old, covered, 0.4) == {1: 7}  # ties: the first pair; 7 is then used
    assert match_ids(new, old, covered, 0.5) == {}  # IoU 2 / 4 is not above 0.5
    assert match_ids(new, old, np.zeros_like(covered), 0.0) == {}


def test_bad_threshold_is_an_error() -> None:
    with pytest.raises(ValueError, match="match_iou"):
        InstanceCanvas((4, 4), match_iou=1.0)


def test_stitched_instances_take_one_class() -> None:
    mask = np.array([[1, 1, 2, 0, 0, 2]])
    instances = np.array([[5, 5, 5, 7, 7, 0]])
    m, i = vote_instance_classes(mask, instances)
    assert m.tolist() == [[1, 1, 1, 0, 0, 2]] and i.tolist() == [[5, 5, 5, 0, 0, 0]]
