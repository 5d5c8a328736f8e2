"""Post-processing of decoded panoptic masks: each instance takes the majority class of its pixels, and
instances under a minimum area are dropped; optionally after cleaning the ids (:func:`clean_and_vote`)."""

from __future__ import annotations

import torch

from rleseg.models.bitdiffusion.clean_ids import fill_from_neighbours, mode_filter, split_components


def majority_vote(
    classes: torch.Tensor, instances: torch.Tensor, num_classes: int, min_area: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoded class ids and instance ids ``(B, h, w)`` -> cleaned ``(classes, instances)``.

    Class ids above ``num_classes`` (C; bits can spell ids no class has) become background first. Every
    instance (id > 0) then takes the most frequent class among its pixels (ties: the lower id); an instance
    whose class is background becomes background with id 0, and one of fewer than ``min_area`` pixels loses
    its id (its pixels keep the class it took: the authors' code makes them void, which here would count as
    background in the class metrics). Pixels of no instance keep their own class."""
    classes = torch.where(classes > num_classes, torch.zeros_like(classes), classes)
    out_c, out_i = classes.clone(), instances.clone()
    k = num_classes + 1
    for b in range(classes.shape[0]):
        inst, cls = instances[b].reshape(-1), classes[b].reshape(-1)
        fg = inst > 0
        if not bool(fg.any()):
            continue
        ids, inverse = torch.unique(inst[fg], return_inverse=True)
        votes = torch.zeros(ids.shape[0] * k, dtype=torch.int64, device=inst.device)
        votes.index_add_(0, inverse * k + cls[fg], torch.ones_like(inverse))
        votes = votes.view(-1, k)
        winner = votes.argmax(1)  # first maximum: the lower class id on ties
        kept = (winner > 0) & (votes.sum(1) >= min_area)
        new_cls = cls.clone()
        new_inst = inst.clone()
        new_cls[fg] = winner[inverse]
        new_inst[fg] = torch.where(kept[inverse], inst[fg], torch.zeros_like(inst[fg]))
        out_c[b], out_i[b] = new_cls.view(classes.shape[1:]), new_inst.view(classes.shape[1:])
    return out_c, out_i


def clean_and_vote(
    classes: torch.Tensor, instances: torch.Tensor, num_classes: int, min_area: int, max_id: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`majority_vote` after cleaning the ids (:mod:`rleseg.models.bitdiffusion.clean_ids`): a 3 x 3 mode
    filter, one id per connected piece (new ids within ``1..max_id`` when given), the vote with the
    ``min_area`` filter, then foreground pixels left without an id take their neighbours' id and every
    instance takes the majority class of its pixels again. Inputs and outputs ``(B, h, w)``."""
    instances = split_components(mode_filter(instances), max_id)
    classes, instances = majority_vote(classes, instances, num_classes, min_area)
    instances = fill_from_neighbours(classes, instances)
    return majority_vote(classes, instances, num_classes, 0)
