"""From Mask2Former's outputs to a window's labels: per-query masks cropped to the window and brought to its size,
semantic probabilities (class-weighted mask probabilities, as in the paper's semantic inference) and panoptic
segments (the paper's panoptic inference: confident queries claim pixels; a query keeps its segment when
enough of its own mask is visible).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MASK_STRIDE = 4  # the per-query mask logits are at 1/4 of the (padded) input


def window_masks(mask_logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Per-query mask logits ``(..., Q, H/4, W/4)`` of a padded input -> ``(..., Q, h, w)`` for the window of
    ``size`` at its top-left: crop the cells that cover the window (plus one, the bilinear neighbour of the last),
    upsample them 4x (bilinear, half-pixel centres), crop the window's pixels. The same values as upsampling
    the whole padded map and cropping, without the padded part."""
    h, w = size
    ch = min(math.ceil(h / MASK_STRIDE) + 1, mask_logits.shape[-2])
    cw = min(math.ceil(w / MASK_STRIDE) + 1, mask_logits.shape[-1])
    lead = mask_logits.shape[:-2]
    cells = mask_logits[..., :ch, :cw].reshape(-1, 1, ch, cw)
    up = F.interpolate(cells, size=(ch * MASK_STRIDE, cw * MASK_STRIDE), mode="bilinear", align_corners=False)
    return up[..., :h, :w].reshape(*lead, h, w)


def label_probs(class_logits: torch.Tensor, num_classes: int, panoptic: bool) -> torch.Tensor:
    """Query class logits ``(..., Q, K + 1)`` (``K`` labels and no-object) -> ``(..., Q, C + 1)`` probabilities of
    the classes 0..C (no-object dropped; panoptic: thing ``C + c`` added to stuff ``c``)."""
    probs = class_logits.float().softmax(-1)[..., :-1]
    if not panoptic:
        return probs
    stuff, things = probs[..., : num_classes + 1], probs[..., num_classes + 1 :]
    return stuff + F.pad(things, (1, 0))


def semantic_probs(class_logits: torch.Tensor, masks: torch.Tensor, num_classes: int, panoptic: bool) -> torch.Tensor:
    """Class logits ``(Q, K + 1)`` and window mask logits ``(Q, h, w)`` -> class probabilities ``(C + 1, h, w)``:
    ``sum_q p_q(c) sigmoid(m_q)``, normalised over the classes (all zero: background)."""
    scores = torch.einsum("qc,qhw->chw", label_probs(class_logits, num_classes, panoptic), masks.float().sigmoid())
    total = scores.sum(0, keepdim=True)
    background = torch.zeros_like(scores)
    background[0] = 1.0
    return torch.where(total > 0, scores / total.clamp_min(1e-12), background)


def panoptic_segments(
    class_logits: torch.Tensor,
    masks: torch.Tensor,
    semantic: torch.Tensor,
    num_classes: int,
    object_threshold: float,
    overlap_threshold: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One window's class logits ``(Q, 2C + 2)`` and mask logits ``(Q, h, w)`` -> class ids and instance ids
    ``(h, w)``. Queries whose best label is not no-object, with probability above ``object_threshold``, claim
    the pixels where their score-weighted mask probability is highest; a query's segment is the claimed pixels
    of its mask (probability >= 0.5), kept when at least ``overlap_threshold`` of that mask. Thing segments
    (labels ``C + c``) become instances 1, 2, ... of class ``c``; stuff segments (labels ``c``) get class ``c``
    and no instance. Pixels in no segment keep their ``semantic`` class ``(h, w)``, without instance."""
    probs = class_logits.float().softmax(-1)
    scores, labels = probs.max(-1)
    keep = (labels != probs.shape[-1] - 1) & (scores > object_threshold)
    classes = semantic.clone()
    instances = torch.zeros_like(semantic)
    if not bool(keep.any()):
        return classes, instances
    scores, labels = scores[keep], labels[keep]
    mask_probs = masks[keep].float().sigmoid()  # (k, h, w)
    owner = (scores[:, None, None] * mask_probs).argmax(0)
    next_id = 1
    for k in range(len(labels)):
        own = mask_probs[k] >= 0.5
        segment = (owner == k) & own
        area, original = int(segment.sum()), int(own.sum())
        if area == 0 or original == 0 or area < overlap_threshold * original:
            continue
        label = int(labels[k])
        if label > num_classes:
            classes[segment] = label - num_classes
            instances[segment] = next_id
            next_id += 1
        else:
            classes[segment] = label
    return classes, instances
