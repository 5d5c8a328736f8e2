"""Cleaning decoded instance ids before the majority vote: a short-trained bit-diffusion model writes ids that
are noisy from pixel to pixel (a cell holds several ids in speckles, and one id turns up in distant cells).

- :func:`mode_filter`: each instance pixel takes the most frequent id of its 3 x 3 neighbourhood (speckles
  inside a cell join the cell's main id);
- :func:`split_components`: an id whose pixels form several 8-connected pieces becomes one id per piece
  (distinct cells that drew the same id are told apart; the pieces then face the minimum-area filter alone);
- :func:`fill_from_neighbours`: foreground pixels left without an instance (dropped small pieces) take the
  most frequent id among their 8 neighbours, a few passes, so a dropped speckle inside a cell rejoins it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

_EIGHT = np.ones((3, 3), dtype=bool)


def _neighbour_mode(ids: torch.Tensor, include_centre: bool) -> torch.Tensor:
    """For ids ``(B, h, w)``: the most frequent id > 0 in each pixel's 3 x 3 neighbourhood (with or without the
    pixel itself), ``(B, h, w)``; 0 where no neighbour has an id. Ties: the lower id. One window at a time
    (memory: one ``(ids, h, w)`` count map)."""
    out = torch.zeros_like(ids)
    for b in range(ids.shape[0]):
        values, inverse = torch.unique(ids[b], return_inverse=True)
        one_hot = F.one_hot(inverse, values.numel()).permute(2, 0, 1)[None].float()  # (1, V, h, w)
        kernel = torch.ones(values.numel(), 1, 3, 3, dtype=one_hot.dtype, device=ids.device)
        if not include_centre:
            kernel[:, :, 1, 1] = 0
        counts = F.conv2d(one_hot, kernel, padding=1, groups=values.numel())[0]  # (V, h, w)
        counts[values == 0] = 0  # background never wins
        best, arg = counts.max(0)
        out[b] = torch.where(best > 0, values[arg], torch.zeros_like(values[arg]))
    return out


def mode_filter(instances: torch.Tensor) -> torch.Tensor:
    """Instance ids ``(B, h, w)`` -> ids where every pixel with an id takes the most frequent id > 0 of its
    3 x 3 neighbourhood (itself included); pixels without an id keep 0."""
    if instances.numel() == 0 or not bool((instances > 0).any()):
        return instances
    mode = _neighbour_mode(instances, include_centre=True)
    return torch.where(instances > 0, mode, instances)


def split_components(instances: torch.Tensor, max_id: int | None = None) -> torch.Tensor:
    """Instance ids ``(B, h, w)`` -> ids with one id per 8-connected piece of each id. The largest piece keeps
    its id; the others get ids not used in the window, counting up (with ``max_id``: from the free ids of
    ``1..max_id``; a piece that finds none is left without an id, 0)."""
    out = instances.clone()
    arr = instances.cpu().numpy()
    for b in range(arr.shape[0]):
        window = arr[b]
        present = np.unique(window[window > 0])
        used = set(present.tolist())
        free = (
            i
            for i in range(1, (max_id if max_id is not None else int(window.max()) + window.size) + 1)
            if i not in used
        )
        result = window.copy()
        for i in present.tolist():
            labels, n = ndimage.label(window == i, structure=_EIGHT)
            if n < 2:
                continue
            sizes = np.bincount(labels.ravel())[1:]
            for piece in np.argsort(-sizes, kind="stable")[1:] + 1:
                result[labels == piece] = next(free, 0)
        out[b] = torch.from_numpy(result).to(out)
    return out


def fill_from_neighbours(classes: torch.Tensor, instances: torch.Tensor, passes: int = 8) -> torch.Tensor:
    """Foreground pixels (class > 0) without an instance take the most frequent id among their 8 neighbours,
    ``passes`` times over (each pass grows ids by one pixel). Inputs ``(B, h, w)``; returns the instance ids."""
    out = instances
    for _ in range(passes):
        hole = (classes > 0) & (out == 0)
        if not bool(hole.any()) or not bool((out > 0).any()):
            break
        mode = _neighbour_mode(out, include_centre=False)
        out = torch.where(hole, mode, out)
    return out
