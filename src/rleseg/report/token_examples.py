"""A small built-in mask to tokenize when the user gives none: a patch of the synthetic cells, subsampled.

As in the paper (Fig. 3), a ``P x P`` patch is cut from a larger image and subsampled by ``P / S`` to the
tokenizer's ``S x S``; ``P`` is chosen so cells stay a few mask pixels wide, and the patch is the one with
the most classes and cells in it. Video schemes get the same patch of a synthetic cell video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rleseg.data.synthetic import CLASSES, SyntheticCells, SyntheticCellVideos
from rleseg.tokenizers.resolution import subsample

IMAGE_SIDE = 320  # the synthetic image the patch is cut from (cells are ~25-40 pixels across)
PATCH_SIDE = 112  # aim: a patch this wide, so a cell covers about a quarter of the mask's side


@dataclass(frozen=True)
class ExampleMask:
    """``mask`` (``(S, S)`` or ``(N, S, S)`` class ids), its ``instances`` and the class names (background
    first)."""

    mask: np.ndarray
    instances: np.ndarray
    class_names: list[str]


def _best_window(mask: np.ndarray, instances: np.ndarray, patch: int) -> tuple[int, int]:
    """Top-left ``(y, x)`` of the ``patch``-wide window with the most classes, then cells (up to 4), then a
    foreground share nearest 30%.

    ``mask``/``instances``: ``(H, W)``. Windows step by a quarter patch; ties go to the first.
    """
    h, w = mask.shape
    stride = max(1, patch // 4)
    best, best_score = (0, 0), -1.0
    for y in range(0, h - patch + 1, stride):
        for x in range(0, w - patch + 1, stride):
            m = mask[y : y + patch, x : x + patch]
            classes = np.unique(m[m > 0]).size
            cells = np.unique(instances[y : y + patch, x : x + patch]).size - 1
            fg = float((m > 0).mean())
            score = 100 * classes + 10 * min(cells, 4) - 40 * abs(fg - 0.3)
            if score > best_score:
                best, best_score = (y, x), score
    return best


def example_mask(mask_size: int, num_frames: int = 1, *, binary: bool = False, seed: int = 0) -> ExampleMask:
    """The synthetic example: ``(S, S)`` masks, or ``(N, S, S)`` for ``num_frames > 1``.

    ``binary``: every cell as one foreground class (for the ``binary`` scheme). ``seed`` picks the image.
    """
    if mask_size < 1 or mask_size > IMAGE_SIDE:
        raise ValueError(f"mask_size must be in [1, {IMAGE_SIDE}] for the synthetic example, got {mask_size}")
    factor = max(1, min(round(PATCH_SIDE / mask_size), IMAGE_SIDE // mask_size))
    patch = mask_size * factor
    if num_frames > 1:
        video = SyntheticCellVideos("train", num_videos=1, num_frames=num_frames, size=IMAGE_SIDE, seed=seed)[0]
        masks, instances = video.mask, video.instances
        assert instances is not None
        y, x = _best_window(masks[0], instances[0], patch)
    else:
        sample = SyntheticCells("train", num_images=1, size=IMAGE_SIDE, seed=seed)[0]
        masks, instances = sample.mask, sample.instances
        assert instances is not None
        y, x = _best_window(masks, instances, patch)
    mask = subsample(masks[..., y : y + patch, x : x + patch], factor).astype(np.uint8)
    inst = subsample(instances[..., y : y + patch, x : x + patch], factor).astype(np.int32)
    names = list(CLASSES)
    if binary:
        mask = (mask > 0).astype(np.uint8)
        names = [names[0], "cell"]
    return ExampleMask(mask, inst, names)
