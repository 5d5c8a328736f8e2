"""A torch Dataset of training or evaluation windows with their labels at the model's label size.

Each item is one spatial window of size P (and, for clip models, N frames) of a resized sample, augmented
for training, with its labels at full resolution and at the model's label size (a token model's S; P for
per-pixel models). Model families add their own targets (tokens, ...) in their collate function.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from rleseg.data.patches import Window, crop_window, resize_sample, spatial_windows, temporal_windows
from rleseg.data.sample import Sample, SegmentationSource, check_sample
from rleseg.data.transforms import AugmentConfig, augment, build_transform
from rleseg.tokenizers.resolution import resize_nearest, subsample


def window_rng(item: dict[str, Any], stream: int) -> np.random.Generator:
    """A generator seeded by a window item's ``window_key`` (``(0, 0, 0)`` when it has none) and ``stream``, so
    each use of per-window randomness (run order, the frame a mixed clip keeps ...) draws its own numbers."""
    return np.random.default_rng([*item.get("window_key", (0, 0, 0)), stream])


@dataclass
class WindowConfig:
    """Geometry of the windows (paper III-B, IV): resize to I, patches of P, N frames with stride T.

    ``image_size`` (I): longer side after resizing; None keeps the original size.
    ``patch_size`` (P): window side; None uses the whole (resized) image, padded to a square.
    ``train_stride``: stride, or (min, max) range of random strides, between training windows
    (default ``(P // 2, P)``); ``eval_stride``: stride of evaluation windows (default P, no overlap);
    ``val_stride``: stride of validation windows (default ``eval_stride``).
    ``frame_stride`` (T): stride between training clips; evaluation clips use ``eval_frame_stride``
    (default N, no overlap).
    """

    image_size: int | None = None
    patch_size: int | None = None
    train_stride: int | tuple[int, int] | None = None
    eval_stride: int | None = None
    val_stride: int | None = None
    frame_stride: int = 1
    eval_frame_stride: int | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)


class WindowDataset(Dataset):
    """Windows of a :class:`SegmentationSource`, clips of ``frames`` frames (None: single images).

    Items are dicts: ``image`` uint8 ``(3, P, P)`` (``(N, 3, P, P)`` for clips), ``mask`` int64 ``(h, w)`` /
    ``(N, h, w)`` at ``mask_size`` (None: at P), ``instances`` the same (zeros when unknown), ``mask_full``
    int64 at P, ``name`` str and ``window_key`` ``(seed, epoch, index)`` (to seed per-window randomness in a
    collate function). Resized samples are kept in memory up to ``cache_bytes`` (least recently used first
    out), so a small dataset is read or generated once. ``train``: random strides and augmentation;
    ``validation``: evaluation windows at ``cfg.val_stride`` (else ``eval_stride``).
    """

    def __init__(
        self,
        source: SegmentationSource,
        cfg: WindowConfig,
        *,
        train: bool,
        validation: bool = False,
        frames: int | None = None,
        mask_size: tuple[int, int] | None = None,
        seed: int = 0,
        epoch: int = 0,
        cache_bytes: int = 1 << 30,
    ) -> None:
        self.source, self.cfg = source, cfg
        self.train, self.seed = train, seed
        self.validation = validation
        self.num_classes = len(source.classes) - 1
        self.frames, self.mask_size = frames, mask_size
        self._transform = build_transform(cfg.augment)
        self._cache: OrderedDict[int, Sample] = OrderedDict()
        self._cache_bytes = cache_bytes
        self._cached_bytes = 0
        self._shapes: dict[int, tuple[int, ...]] = {}
        self.windows: list[Window] = []
        self.set_epoch(epoch)

    # ----- windows ------------------------------------------------------------------------------------
    def _resized(self, index: int) -> Sample:
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        sample = self.source[index]
        check_sample(sample, self.num_classes, f"sample {index} ({sample.name})")
        if self.frames is not None and not sample.is_video:
            raise ValueError(f"the model reads clips of {self.frames} frames, sample {sample.name} is a single image")
        if self.frames is None and sample.is_video:
            raise ValueError(f"the model takes single images, sample {sample.name} is a video")
        sample = resize_sample(sample, self.cfg.image_size)
        self._cache[index] = sample
        self._cached_bytes += _nbytes(sample)
        while self._cached_bytes > self._cache_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached_bytes -= _nbytes(old)
        return sample

    def patch_size_of(self, sample: Sample) -> int:
        """P for this sample: the configured patch size, or the sample's longer side."""
        return self.cfg.patch_size or max(sample.mask.shape[-2:])

    def set_epoch(self, epoch: int) -> None:
        """Draw the windows of ``epoch`` (random strides for training, fixed for evaluation)."""
        rng = np.random.default_rng([self.seed, epoch]) if self.train else None
        windows: list[Window] = []
        for i in range(len(self.source)):
            if i not in self._shapes:
                self._shapes[i] = self._resized(i).mask.shape
            shape = self._shapes[i]
            h, w = shape[-2:]
            p = self.cfg.patch_size or max(h, w)
            if self.train:
                stride: int | tuple[int, int] = self.cfg.train_stride or (max(1, p // 2), p)
            else:
                stride = (self.cfg.val_stride if self.validation else None) or self.cfg.eval_stride or p
            ts = [0]
            if self.frames is not None:
                t_stride = self.cfg.frame_stride if self.train else (self.cfg.eval_frame_stride or self.frames)
                ts = temporal_windows(shape[0], self.frames, t_stride)
            # without a patch size a window is the whole image: no random shift (that would cut it)
            shift_rng = rng if self.cfg.patch_size else None
            for t in ts:
                windows += [Window(i, y, x, t) for y, x in spatial_windows(h, w, p, stride, shift_rng)]
        self.windows = windows
        self.epoch = epoch

    # ----- items --------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.windows)

    def window_sample(self, j: int) -> Sample:
        """Window ``j`` cut (and, for training, augmented) at P, before subsampling to S."""
        win = self.windows[j]
        sample = self._resized(win.sample)
        p = self.patch_size_of(sample)
        out = crop_window(sample, win.y, win.x, p, win.t, self.frames)
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, j, 1])
            out = augment(out, self.cfg.augment, self._transform, rng)
        return out

    def to_mask_size(self, labels: np.ndarray) -> np.ndarray:
        """Labels ``(..., P, P)`` -> ``(..., h, w)`` at ``mask_size`` (nearest; unchanged without one)."""
        if self.mask_size is None:
            return labels
        hs, ws = self.mask_size
        p = labels.shape[-1]
        if p % ws == 0 and labels.shape[-2] % hs == 0 and p // ws == labels.shape[-2] // hs:
            return subsample(labels, p // ws)
        return resize_nearest(labels, (hs, ws))

    def __getitem__(self, j: int) -> dict[str, Any]:
        win = self.window_sample(j)
        full = win.mask.astype(np.int64)
        mask = self.to_mask_size(full)  # the same array when the labels stay at P
        inst = np.zeros_like(mask) if win.instances is None else self.to_mask_size(win.instances).astype(np.int64)
        image = torch.from_numpy(win.image)
        image = image.permute(0, 3, 1, 2) if win.is_video else image.permute(2, 0, 1)
        item: dict[str, Any] = {
            "image": image.contiguous(),
            "mask": torch.from_numpy(mask),
            "instances": torch.from_numpy(inst),
            "mask_full": torch.from_numpy(full),
            "name": win.name,
            "window_key": (self.seed, self.epoch, j),
        }
        return item


def _nbytes(sample: Sample) -> int:
    """Memory held by a sample's arrays."""
    return sample.image.nbytes + sample.mask.nbytes + (0 if sample.instances is None else sample.instances.nbytes)
