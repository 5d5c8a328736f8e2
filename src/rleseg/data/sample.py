"""What every dataset yields: an image (or clip) with its class mask and optional instance ids."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class Sample:
    """One image or video clip with its labels.

    ``image``: ``(H, W, 3)`` uint8 RGB, or ``(T, H, W, 3)`` for a video.
    ``mask``: ``(H, W)`` or ``(T, H, W)`` integer class ids, 0 = background, classes 1..C.
    ``instances``: same shape as ``mask``, integer instance ids, 0 = no instance; ``None`` when unknown.
    ``name``: identifier for messages and output files (file stem or video folder name).
    """

    image: np.ndarray
    mask: np.ndarray
    instances: np.ndarray | None
    name: str

    @property
    def is_video(self) -> bool:
        """True for a ``(T, H, W, 3)`` clip."""
        return self.image.ndim == 4


@runtime_checkable
class SegmentationSource(Protocol):
    """A dataset of :class:`Sample` s with a class list (background first: ``classes[0]``)."""

    classes: Sequence[str]

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Sample: ...


def check_sample(sample: Sample, num_classes: int, where: str) -> None:
    """Raise ValueError naming ``where`` when shapes disagree or class ids exceed ``num_classes``."""
    img, mask = sample.image, sample.mask
    if img.dtype != np.uint8 or img.shape[-1] != 3 or img.ndim not in (3, 4):
        raise ValueError(f"{where}: image must be uint8 (H, W, 3) or (T, H, W, 3), got {img.dtype} {img.shape}")
    if mask.shape != img.shape[:-1]:
        raise ValueError(f"{where}: mask has shape {mask.shape}, image has {img.shape[:-1]}; they must match")
    if mask.size and (int(mask.min()) < 0 or int(mask.max()) > num_classes):
        bad = int(mask.max()) if int(mask.max()) > num_classes else int(mask.min())
        raise ValueError(f"{where}: mask holds class id {bad}, expected ids in [0, {num_classes}]")
    if sample.instances is not None and sample.instances.shape != mask.shape:
        raise ValueError(
            f"{where}: instances have shape {sample.instances.shape}, mask has {mask.shape}; they must match"
        )


class ListSource:
    """A :class:`SegmentationSource` over samples already in memory."""

    def __init__(self, samples: Sequence[Sample], classes: Sequence[str]) -> None:
        if not classes:
            raise ValueError("classes must list at least the background class")
        self.samples = list(samples)
        self.classes = list(classes)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Sample:
        return self.samples[index]
