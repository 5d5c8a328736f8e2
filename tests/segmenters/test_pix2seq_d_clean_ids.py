"""Cleaning decoded instance ids (pix2seq-d ``clean_ids``): speckles join their cell, one id in two cells
becomes two instances, dropped pieces rejoin their neighbours; streaming ids stay within their bits."""

from __future__ import annotations

import torch

from rleseg.metrics.panoptic import PanopticQuality
from rleseg.models.bitdiffusion.clean_ids import fill_from_neighbours, mode_filter, split_components
from rleseg.models.bitdiffusion.postprocess import clean_and_vote, majority_vote


def two_cells() -> tuple[torch.Tensor, torch.Tensor]:
    """Class and instance ids ``(1, 10, 16)``: cell 1 (class 1) on the left, cell 2 (class 2) on the right."""
    classes = torch.zeros(1, 10, 16, dtype=torch.int64)
    instances = torch.zeros_like(classes)
    classes[0, 2:8, 1:7], instances[0, 2:8, 1:7] = 1, 1
    classes[0, 2:8, 9:15], instances[0, 2:8, 9:15] = 2, 2
    return classes, instances


def pq(classes: torch.Tensor, instances: torch.Tensor, pred: tuple[torch.Tensor, torch.Tensor]) -> float:
    metric = PanopticQuality(2)
    metric.update(classes[0].numpy(), instances[0].numpy(), pred[0][0].numpy(), pred[1][0].numpy())
    return float(metric.compute()["pq"])


def test_speckled_ids_and_a_shared_id_are_cleaned_into_the_true_cells() -> None:
    classes, truth = two_cells()
    noisy = truth.clone()
    noisy[truth > 0] = 5  # both cells drew the same id ...
    noisy[0, 3, 2] = noisy[0, 5, 4] = noisy[0, 6, 11] = 9  # ... with single-pixel speckles of another
    noisy[0, 4, 10:12] = 17
    plain = majority_vote(classes, noisy, 2, min_area=4)
    cleaned = clean_and_vote(classes, noisy, 2, min_area=4)
    assert pq(classes, truth, plain) < 0.5, "without cleaning the two cells are one instance"
    assert pq(classes, truth, cleaned) == 1.0
    assert torch.equal(cleaned[0], classes)


def test_mode_filter_removes_a_speckle_and_keeps_background() -> None:
    ids = torch.zeros(1, 5, 5, dtype=torch.int64)
    ids[0, 1:4, 1:4] = 3
    ids[0, 2, 2] = 8
    out = mode_filter(ids)
    assert (out[0, 1:4, 1:4] == 3).all() and int(out.sum()) == 27


def test_split_components_gives_each_piece_its_own_id_within_the_bits() -> None:
    ids = torch.tensor([[[1, 1, 0, 1, 0, 2, 0, 1]]])  # id 1 in three pieces, the first the largest
    out = split_components(ids)
    assert out[0, 0, :2].tolist() == [1, 1] and len(set(out[0, 0].tolist()) - {0}) == 4
    capped = split_components(ids, max_id=3)  # free ids: 3 only; the last piece finds none
    assert capped[0, 0].tolist() == [1, 1, 0, 3, 0, 2, 0, 0]


def test_fill_gives_orphan_foreground_pixels_their_neighbours_id() -> None:
    classes = torch.ones(1, 3, 6, dtype=torch.int64)
    classes[0, :, 5] = 0
    ids = torch.zeros_like(classes)
    ids[0, :, :2] = 4
    out = fill_from_neighbours(classes, ids, passes=2)
    assert out[0].tolist() == [[4, 4, 4, 4, 0, 0]] * 3
