"""The paper's input geometry: resize to I, sliding-window patches of size P, temporal windows of N frames.

Windows are described by their top-left corner; images smaller than P are padded (image 0, labels 0).
Training windows use random strides drawn from a range, and the last window along each axis is shifted
back inside the image, so every pixel is covered at least once. Along an axis no longer than P, a training
window is shifted by a random offset instead (up to P/8 beyond the image on either side, padded), so small
images do not give the same window every epoch (the dataset does this only when a patch size P is set: without
one a window is the whole image).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from rleseg.data.sample import Sample
from rleseg.tokenizers.resolution import resize_nearest


@dataclass(frozen=True)
class Window:
    """One spatio-temporal window of a sample: frames from ``t``, pixels ``[y, y + P) x [x, x + P)``."""

    sample: int
    y: int
    x: int
    t: int = 0


def window_starts(
    length: int, window: int, stride: int | tuple[int, int], rng: np.random.Generator | None
) -> list[int]:
    """Start offsets of windows of ``window`` along an axis of ``length``.

    ``stride``: a fixed stride, or a ``(min, max)`` range drawn from with ``rng`` at every step. The last
    window is shifted back to end at ``length``. When ``length <= window`` there is a single window: at 0
    without ``rng``, else at a random offset in ``[length - window - window // 8, window // 8]`` (negative:
    the image starts inside the window; the part outside it is padded).
    """
    lo, hi = (stride, stride) if isinstance(stride, int) else stride
    if lo < 1 or hi < lo:
        raise ValueError(f"stride must be a positive int or a (min, max) range with min <= max, got {stride!r}")
    if length <= window:
        if rng is None:
            return [0]
        slack = window // 8
        return [int(rng.integers(length - window - slack, slack + 1))]
    starts = [0]
    while starts[-1] + window < length:
        step = lo if lo == hi or rng is None else int(rng.integers(lo, hi + 1))
        starts.append(min(starts[-1] + step, length - window))
    return starts


def spatial_windows(
    height: int, width: int, patch: int, stride: int | tuple[int, int], rng: np.random.Generator | None = None
) -> list[tuple[int, int]]:
    """Top-left corners ``(y, x)`` of ``patch x patch`` windows covering a ``height x width`` image."""
    ys = window_starts(height, patch, stride, rng)
    xs = window_starts(width, patch, stride, rng)
    return [(y, x) for y in ys for x in xs]


def temporal_windows(num_frames: int, window: int, stride: int) -> list[int]:
    """First frames of windows of ``window`` frames with ``stride``; the last one ends at the last frame.

    A video shorter than ``window`` gives ``[0]`` (its frames are repeated by :func:`crop_window`).
    """
    if window < 1 or stride < 1:
        raise ValueError(f"temporal window and stride must be >= 1, got N={window}, T={stride}")
    return window_starts(num_frames, window, stride, None)


def resize_sample(sample: Sample, size: int | None) -> Sample:
    """Resize so that the longer side is ``size`` (aspect kept): image bilinear, labels nearest.

    ``None`` or a sample already of that size returns it unchanged.
    """
    h, w = sample.mask.shape[-2:]
    if size is None or max(h, w) == size:
        return sample
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    img = torch.from_numpy(np.ascontiguousarray(sample.image))
    img = img.reshape(-1, h, w, 3).permute(0, 3, 1, 2).float()
    img = F.interpolate(img, size=(nh, nw), mode="bilinear", align_corners=False, antialias=scale < 1)
    image = img.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    image = image.reshape(*sample.image.shape[:-3], nh, nw, 3)
    mask = resize_nearest(sample.mask, (nh, nw))
    inst = None if sample.instances is None else resize_nearest(sample.instances, (nh, nw))
    return Sample(image, mask, inst, sample.name)


def crop_window(sample: Sample, y: int, x: int, patch: int, t: int = 0, frames: int | None = None) -> Sample:
    """Cut ``patch x patch`` pixels at ``(y, x)`` (and ``frames`` frames from ``t`` for a video).

    Pixels outside the image (``y`` or ``x`` may be negative) are padded with 0 (black image, background
    labels); a clip shorter than ``frames`` repeats its last frame.
    """
    top, left = max(-y, 0), max(-x, 0)

    def cut(a: np.ndarray, channels_last: bool) -> np.ndarray:
        hy, wx = (a.ndim - 3, a.ndim - 2) if channels_last else (a.ndim - 2, a.ndim - 1)
        index = [slice(None)] * a.ndim
        index[hy], index[wx] = slice(y + top, y + patch), slice(x + left, x + patch)
        sl = a[tuple(index)]
        pad = [(0, 0)] * a.ndim
        pad[hy] = (top, patch - top - sl.shape[hy])
        pad[wx] = (left, patch - left - sl.shape[wx])
        return np.pad(sl, pad) if any(pad[hy]) or any(pad[wx]) else sl

    image, mask, inst = sample.image, sample.mask, sample.instances
    if frames is not None and sample.is_video:
        idx = np.minimum(np.arange(t, t + frames), image.shape[0] - 1)
        image, mask = image[idx], mask[idx]
        inst = None if inst is None else inst[idx]
    return Sample(
        np.ascontiguousarray(cut(image, True)),
        np.ascontiguousarray(cut(mask, False)),
        None if inst is None else np.ascontiguousarray(cut(inst, False)),
        f"{sample.name}@t{t}y{y}x{x}" if sample.is_video else f"{sample.name}@y{y}x{x}",
    )
