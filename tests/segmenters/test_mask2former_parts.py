"""Mask2Former's parts without training: targets from a window's labels, the crop-then-resize of query masks,
semantic and panoptic inference, the FLOPs formula for grid sampling, and config errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rleseg.commands.flops import count_flops
from rleseg.config import load_config
from rleseg.models.mask2former.build import check_config, timm_features
from rleseg.models.mask2former.inference import panoptic_segments, semantic_probs, window_masks
from rleseg.models.mask2former.targets import batch_targets, num_labels, panoptic_targets, semantic_targets


def labels() -> tuple[torch.Tensor, torch.Tensor]:
    """8 x 8: two instances of class 1, one of class 2, a class-2 region without instance, background; an
    instance id on background pixels only (majority background)."""
    mask = torch.zeros(8, 8, dtype=torch.long)
    inst = torch.zeros(8, 8, dtype=torch.long)
    mask[0:2, 0:2], inst[0:2, 0:2] = 1, 1
    mask[0:2, 4:6], inst[0:2, 4:6] = 1, 2
    mask[4:6, 0:3], inst[4:6, 0:3] = 2, 3
    mask[4, 0] = 1  # one pixel of instance 3 has another class: the instance keeps its majority class 2
    mask[6:8, 4:8] = 2  # class 2 without instance
    inst[7, 0] = 4  # an "instance" on background
    return mask, inst


def test_semantic_targets_one_per_class_present() -> None:
    mask, _ = labels()
    t = semantic_targets(mask)
    assert t.labels.tolist() == [0, 1, 2]
    assert torch.equal(t.masks.sum(0), torch.ones(8, 8, dtype=torch.long)), "disjoint and covering"
    assert torch.equal(t.masks[1], mask == 1)


def test_panoptic_targets_instances_then_class_regions() -> None:
    mask, inst = labels()
    t = panoptic_targets(mask, inst, num_classes=2)
    assert t.labels.tolist() == [3, 3, 4, 0, 2], "things C + c for instances 1-3, then stuff 0 and 2"
    assert torch.equal(t.masks.sum(0), torch.ones(8, 8, dtype=torch.long)), "disjoint and covering"
    assert torch.equal(t.masks[2], inst == 3), "the whole instance, its odd pixel included"
    assert bool(t.masks[3][7, 0]), "the background-majority 'instance' stays background"
    assert torch.equal(t.masks[4], (mask == 2) & (inst == 0))
    assert num_labels(2, panoptic=True) == 5 and num_labels(2, panoptic=False) == 3


def test_batch_targets_are_padded_like_the_images() -> None:
    mask, inst = labels()
    masks, classes = batch_targets(mask[None], inst[None], 2, (32, 32))
    assert masks[0].shape == (5, 32, 32) and masks[0].dtype == torch.float32
    assert masks[0][:, 8:].sum() == 0 and masks[0][:, :, 8:].sum() == 0 and masks[0].sum() == 64
    assert classes[0].tolist() == [3, 3, 4, 0, 2]


@pytest.mark.parametrize("size", [(32, 32), (29, 21), (1, 3)])
def test_window_masks_equal_full_upsampling_then_crop(size: tuple[int, int]) -> None:
    logits = torch.randn(2, 5, 8, 8)  # queries' masks of a 32 x 32 padded input
    full = F.interpolate(logits, size=(32, 32), mode="bilinear", align_corners=False)[..., : size[0], : size[1]]
    out = window_masks(logits, size)
    assert out.shape == (2, 5, *size)
    torch.testing.assert_close(out, full)


def test_semantic_probs_sum_things_and_stuff_of_a_class() -> None:
    big = 20.0
    class_logits = torch.full((3, 6), -big)  # 2 classes, panoptic: labels 0..4 and no-object 5
    class_logits[0, 3] = big  # a thing of class 1
    class_logits[1, 2] = big  # stuff of class 2
    class_logits[2, 5] = big  # no object
    masks = torch.full((3, 4, 4), -big)
    masks[0, :2], masks[1, 2:], masks[2] = big, big, big
    p = semantic_probs(class_logits, masks, 2, panoptic=True)
    assert p.shape == (3, 4, 4)
    torch.testing.assert_close(p.sum(0), torch.ones(4, 4))
    assert p.argmax(0)[:2].eq(1).all() and p.argmax(0)[2:].eq(2).all()


def test_panoptic_segments_number_instances_and_keep_stuff() -> None:
    big = 20.0
    class_logits = torch.full((4, 6), -big)
    class_logits[0, 3] = class_logits[1, 3] = big  # two things of class 1
    class_logits[2, 2] = big  # stuff of class 2
    class_logits[3, 4] = class_logits[3, 5] = 0.0  # a thing of class 2 or no object, 0.5 each: dropped
    masks = torch.full((4, 6, 6), -big)
    masks[0, :2, :2] = masks[1, :2, 4:] = masks[2, 4:] = big
    masks[3] = big
    semantic = torch.zeros(6, 6, dtype=torch.long)
    classes, instances = panoptic_segments(class_logits, masks, semantic, 2, 0.8, 0.8)
    assert classes[:2, :2].eq(1).all() and classes[:2, 4:].eq(1).all() and classes[4:].eq(2).all()
    assert classes[2:4].eq(0).all() and instances[4:].eq(0).all()
    assert {int(instances[0, 0]), int(instances[0, 5])} == {1, 2}


def test_grid_sampling_is_counted() -> None:
    class Sampler(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            grid = torch.zeros(1, 5, 7, 2)
            return F.grid_sample(x, grid, mode="bilinear", align_corners=False)

    counts = count_flops(Sampler(), torch.zeros(1, 3, 10, 10), {"sampler": Sampler()})
    assert counts["total"] == 2 * 4 * 3 * 5 * 7 and counts["other"] == counts["total"]


def test_config_errors_name_the_setting() -> None:
    for key, value, expected in [
        ("dim", 48, "a positive multiple of 32"),
        ("heads", 3, "a positive divisor of dim=64"),
        ("levels", [1, 2, 3], "4 feature levels"),
        ("object_threshold", 1.0, r"a probability in \[0, 1\)"),
    ]:
        cfg = load_config(None, ["model.family=mask2former", f"model.mask2former.{key}={value}"])
        with pytest.raises(ValueError, match=f"model.mask2former.{key}: expected {expected}"):
            check_config(cfg.model.mask2former)
    cfg = load_config(None, ["model.mask2former.levels=[0,1,2,3]"])
    with pytest.raises(ValueError, match=r"levels: \[0, 1, 2, 3\] of resnet18 have strides \(2, 4, 8, 16\)"):
        timm_features(cfg.model.mask2former, pretrained=False)
    cfg = load_config(None, ["model.mask2former.backbone=resnet_nope"])
    with pytest.raises(ValueError, match="cannot build timm backbone 'resnet_nope'"):
        timm_features(cfg.model.mask2former, pretrained=False)
