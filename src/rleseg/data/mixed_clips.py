"""Clips of frames from different windows: a clip model's warm-up on as many scenes per batch as an image model.

A batch of ``B`` clips of ``N`` frames shows ``B`` scenes, an image model's batch of ``B * N`` frames shows
``B * N`` at about the same cost. :class:`MixedClips` takes ``B * N`` clip windows, keeps one frame of each
(picked by its window key) and stacks them, ``N`` at a time, into ``B`` clips whose frames are unrelated, then
batches those with the family's own collate. The model learns the clip task itself (N frames in, N frames of
labels out), from N times as many scenes; only what relates one frame to the next is missing
(``train.frame_warmup``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from rleseg.data.windows import window_rng

PER_FRAME = ("image", "mask", "instances", "mask_full")


def one_frame(item: dict[str, Any]) -> dict[str, Any]:
    """A clip window item (``image (N, 3, P, P)``, ``mask (N, h, w)`` ...) cut to one of its frames, picked by
    its ``window_key``: every per-frame tensor ``(1, ...)``."""
    frames = int(item["image"].shape[0])
    pick = int(window_rng(item, 3).integers(frames))
    return {**item, **{k: item[k][pick : pick + 1] for k in PER_FRAME}}


def mix_clip_frames(items: list[dict[str, Any]], frames: int) -> list[dict[str, Any]]:
    """``len(items) // frames`` clip items (at least one) whose ``frames`` frames are one frame of ``frames``
    different items each. Instance ids of later frames are shifted past the earlier frames' so that instances
    of different windows never share an id."""
    singles = [one_frame(it) for it in items]
    clips = []
    for c in range(max(1, len(singles) // frames)):
        parts = [singles[(c * frames + j) % len(singles)] for j in range(frames)]
        clip = {k: torch.cat([p[k] for p in parts]) for k in ("image", "mask", "mask_full")}
        shifted, offset = [], 0
        for p in parts:
            ids = p["instances"]
            shifted.append(torch.where(ids > 0, ids + offset, ids))
            offset += int(ids.max()) if ids.numel() else 0
        clip["instances"] = torch.cat(shifted)
        clips.append({**parts[0], **clip})
    return clips


class MixedClips:
    """A collate: clip window items -> :func:`mix_clip_frames` -> the family's ``collate`` (picklable)."""

    def __init__(self, collate: Callable[[list[dict[str, Any]]], dict[str, Any]], frames: int) -> None:
        self.collate, self.frames = collate, frames

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return self.collate(mix_clip_frames(items, self.frames))
