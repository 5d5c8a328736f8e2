"""Training targets: random instance ids (the model must not learn an order), and per-pixel loss weights
that favour small instances."""

from __future__ import annotations

import torch


def permute_instances(instances: torch.Tensor, max_id: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Give the instances of each sample new ids drawn at random, without repeats, from ``1..max_id``.

    ``instances``: int ``(B, ...)``: one sample per row, e.g. ``(B, h, w)`` or a clip ``(B, N, h, w)`` (one
    permutation for the whole clip, so tracks keep their ids across frames). 0 stays 0. A sample with more
    than ``max_id`` instances keeps its ``max_id`` largest; the rest become 0 (no instance)."""
    out = torch.zeros_like(instances)
    for b in range(instances.shape[0]):
        ids, inverse, counts = torch.unique(instances[b], return_inverse=True, return_counts=True)
        fg = ids > 0
        n = int(fg.sum())
        if n == 0:
            continue
        keep = torch.zeros_like(fg)
        fg_index = fg.nonzero().squeeze(1)
        if n > max_id:  # keep the largest instances
            fg_index = fg_index[counts[fg_index].argsort(descending=True)[:max_id]]
        keep[fg_index] = True
        new_ids = torch.zeros(ids.shape[0], dtype=instances.dtype, device=instances.device)
        drawn = torch.randperm(max_id, generator=generator)[: fg_index.shape[0]] + 1
        new_ids[fg_index] = drawn.to(instances)
        out[b] = torch.where(keep[inverse], new_ids[inverse], torch.zeros_like(inverse))
    return out


def instance_weights(instances: torch.Tensor, p: float) -> torch.Tensor:
    """Loss weights ``(B, h, w)`` for instance ids ``(B, h, w)``: ``w = 1 / c ** p`` with ``c`` the pixel count
    of the pixel's instance (pixels of no instance, id 0, count as one segment), normalised so the weights
    of a sample sum to ``h * w``. ``p = 0`` weighs every pixel 1."""
    b = instances.shape[0]
    flat = instances.reshape(b, -1).long()
    weights = torch.empty(flat.shape, dtype=torch.float32, device=instances.device)
    for i in range(b):
        _, inverse, counts = torch.unique(flat[i], return_inverse=True, return_counts=True)
        w = counts.float().pow(-p)[inverse]
        weights[i] = w * (w.numel() / w.sum())
    return weights.reshape(instances.shape)


def drop_previous(previous: torch.Tensor, rate: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero each previous frame's analog bits ``(B, k, K, h, w)`` independently with probability ``rate``
    (zeros: no previous frame, as at the first frame of a video)."""
    keep = torch.rand(previous.shape[:2], generator=generator) >= rate
    return previous * keep.to(previous)[..., None, None, None]
