"""Mask2Former's training targets from a window's labels: a set of binary masks, each with a class label.

Semantic (``panoptic`` off): one target per class present in the window, background (class 0) included, so
every pixel belongs to exactly one target; labels ``0..C`` (``C + 1`` of them).

Panoptic (instance-aware): one target per instance, labelled ``C + c`` for its majority class ``c`` ("thing"
labels ``C + 1 .. 2C``), and one target per class region outside the instances (pixels of class ``c`` in no
instance, "stuff" labels ``0..C``: background is stuff 0). Every pixel again belongs to exactly one target. A
class can so be both: nuclei labelled as instances and a class region without instances, as datasets mix
them. An instance whose majority class is background is not a thing: its pixels stay in the class regions.
The model learns ``2C + 1`` labels; the semantic probability of class ``c`` is the sum of stuff ``c`` and thing
``C + c`` (:func:`rleseg.models.mask2former.inference.semantic_probs`).

In both cases the model has one more class, "no object" (index ``num_labels``), for unmatched queries.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def num_labels(num_classes: int, panoptic: bool) -> int:
    """Labels the model learns for ``num_classes`` foreground classes: ``2C + 1`` panoptic, ``C + 1`` semantic."""
    return 2 * num_classes + 1 if panoptic else num_classes + 1


@dataclass
class WindowTargets:
    """The targets of one window: ``masks`` bool ``(n, h, w)``, disjoint and covering the window; ``labels``
    int64 ``(n,)``."""

    masks: torch.Tensor
    labels: torch.Tensor


def semantic_targets(mask: torch.Tensor) -> WindowTargets:
    """Class ids ``(h, w)`` -> one target per class present, labelled with its class id."""
    ids = mask.unique()
    return WindowTargets(mask[None] == ids[:, None, None], ids.long())


def panoptic_targets(mask: torch.Tensor, instances: torch.Tensor, num_classes: int) -> WindowTargets:
    """Class ids and instance ids ``(h, w)`` (0: no instance) -> one target per instance (label ``C + c``, ``c``
    its majority class; background-majority instances excluded) and one per non-empty class region outside
    them (label ``c``)."""
    if mask.shape != instances.shape:
        raise ValueError(f"class mask {tuple(mask.shape)} and instances {tuple(instances.shape)} differ in shape")
    mask = mask.long()
    masks: list[torch.Tensor] = []
    labels: list[int] = []
    covered = torch.zeros_like(mask, dtype=torch.bool)
    for i in instances.unique().tolist():
        if i == 0:
            continue
        pixels = instances == i
        cls = int(torch.bincount(mask[pixels], minlength=num_classes + 1).argmax())
        if cls == 0:
            continue
        masks.append(pixels)
        labels.append(num_classes + cls)
        covered |= pixels
    for c in mask.unique().tolist():
        region = (mask == c) & ~covered
        if bool(region.any()):
            masks.append(region)
            labels.append(int(c))
    stacked = torch.stack(masks) if masks else torch.zeros((0, *mask.shape), dtype=torch.bool, device=mask.device)
    return WindowTargets(stacked, torch.tensor(labels, dtype=torch.long, device=mask.device))


def batch_targets(
    masks: torch.Tensor, instances: torch.Tensor | None, num_classes: int, padded: tuple[int, int]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Window labels ``(B, h, w)`` (and instance ids, for panoptic targets) -> transformers' ``mask_labels``
    (float ``(n_b, H, W)`` each, zero-padded at the bottom and right to the padded input size ``padded``, as the
    images are) and ``class_labels`` (int64 ``(n_b,)`` each)."""
    mask_labels, class_labels = [], []
    h, w = masks.shape[-2:]
    pad = (0, padded[1] - w, 0, padded[0] - h)
    for b in range(masks.shape[0]):
        t = semantic_targets(masks[b]) if instances is None else panoptic_targets(masks[b], instances[b], num_classes)
        mask_labels.append(torch.nn.functional.pad(t.masks.float(), pad))
        class_labels.append(t.labels)
    return mask_labels, class_labels
