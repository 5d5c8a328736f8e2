"""One image's (or video's) windows and the canvases their predictions merge into.

A :class:`WindowJob` resizes its input like the training data (longer side I), lists its windows of P at a
stride (and, for clip models, clips of N frames from each clip start), cuts any of them on request, takes
each window's prediction in window order, and finally gives the full-size :class:`Prediction`. The
:class:`~rleseg.inference.predictor.Predictor` batches the windows of one or many jobs together; a job
does not care which batch its windows were predicted in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rleseg.data.patches import crop_window, resize_sample, spatial_windows
from rleseg.data.sample import Sample
from rleseg.inference.cleanup import close_gaps
from rleseg.inference.instance_canvas import InstanceCanvas, vote_instance_classes
from rleseg.inference.stitch import WindowMerger
from rleseg.tokenizers.resolution import resize_nearest


@dataclass
class Prediction:
    """A full-size prediction: ``mask`` ``(H, W)`` (video ``(T, H, W)``) class ids, for instance-aware models
    ``instances``, and ``token_lengths`` ``(num_windows,)``: for token models, the generated sequence length of
    every window (EOS included) in the order the windows were predicted (empty for other families)."""

    mask: np.ndarray
    instances: np.ndarray | None
    token_lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass(frozen=True)
class JobSettings:
    """What every job of one predictor shares: resize side ``image_size`` (None: keep), window ``patch`` P
    (None: the resized image's longer side), ``stride``, clip length ``num_frames`` (clip models), label range
    ``num_classes``, ``merge`` rule, whether windows carry ``instances`` (matched across overlapping windows and
    renumbered: :class:`~rleseg.inference.instance_canvas.InstanceCanvas`), the gap size ``cleanup`` (0: off) and
    the weights of each class's votes in ``fg-vote`` (``class_weights`` ``(C + 1,)``, None: all 1)."""

    image_size: int | None
    patch: int | None
    stride: int | None
    num_frames: int | None
    num_classes: int
    merge: str
    instances: bool
    cleanup: int
    class_weights: np.ndarray | None = None


class WindowJob:
    """The windows of one image ``(H, W, 3)`` (``clip_starts`` None) or video ``(T, H, W, 3)`` (clips of N
    frames from each of ``clip_starts``), in a fixed order, and the canvases they merge into."""

    def __init__(self, pixels: np.ndarray, clip_starts: list[int] | None, settings: JobSettings) -> None:
        self.settings = settings
        self.shape0 = pixels.shape[:-1]  # (H, W) or (T, H, W)
        video = clip_starts is not None
        dummy = Sample(pixels, np.zeros(self.shape0, np.uint8), None, "video" if video else "input")  # sizes only
        self.sample = resize_sample(dummy, settings.image_size)
        shape = self.sample.mask.shape
        h, w = shape[-2:]
        self.p = settings.patch or max(h, w)
        stride = settings.stride or self.p
        self.frames = settings.num_frames if video else None
        self.windows = [(t, y, x) for t in (clip_starts or [0]) for y, x in spatial_windows(h, w, self.p, stride)]
        self.merger = WindowMerger(shape, settings.num_classes, settings.merge, settings.class_weights)
        self.canvas = InstanceCanvas(shape) if settings.instances else None
        self.lengths: list[np.ndarray] = []
        self.added = 0  # windows whose prediction was added

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def complete(self) -> bool:
        """Whether every window's prediction has been added."""
        return self.added == len(self.windows)

    def crop(self, i: int) -> np.ndarray:
        """Window ``i``: ``(P, P, 3)`` pixels (clips ``(N, P, P, 3)``), padded with black past the border."""
        t, y, x = self.windows[i]
        return crop_window(self.sample, y, x, self.p, t, self.frames).image

    def add(
        self,
        mask: np.ndarray,
        instances: np.ndarray | None = None,
        probs: np.ndarray | None = None,
        length: int | None = None,
    ) -> None:
        """The next window's prediction: labels ``([N,] h, w)`` at the label size, its ``instances`` (same
        shape), class probabilities ``(C + 1, [N,] h, w)`` for the ``average`` rule, and its token ``length``."""
        t, y, x = self.windows[self.added]
        p = self.p
        prob = None if probs is None else _at_size(probs, p)
        self.merger.add(resize_nearest(mask, (p, p)), y, x, t, probs=prob)
        if self.canvas is not None and instances is not None:
            self.canvas.paste(resize_nearest(instances, (p, p)), y, x, t)
        if length is not None:
            self.lengths.append(np.array([length], np.int64))
        self.added += 1

    def result(self) -> Prediction:
        """The merged prediction, resized back to the input's own size and cleaned of small gaps; with instances,
        each stitched instance takes the most frequent merged class of its pixels."""
        mask, inst = self.merger.result(), None
        if self.canvas is not None:
            mask, inst = vote_instance_classes(mask, self.canvas.canvas)
            inst = _at_shape(inst, self.shape0[-2:])
        mask = _at_shape(mask, self.shape0[-2:])
        gap = self.settings.cleanup
        if gap:
            mask = close_gaps(mask, gap)
            inst = None if inst is None else close_gaps(inst, gap)
        lengths = np.concatenate(self.lengths) if self.lengths else np.zeros(0, np.int64)
        return Prediction(mask, inst, lengths)


def _at_shape(labels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Labels ``(..., h, w)`` at ``(..., H, W)`` (nearest); the array itself when it has that size already."""
    return labels if labels.shape[-2:] == tuple(shape) else resize_nearest(labels, (shape[0], shape[1]))


def _at_size(probs: np.ndarray, p: int) -> np.ndarray:
    """Class probabilities ``(C + 1, [N,] h, w)`` at the window size ``(..., P, P)`` (nearest)."""
    return probs if probs.shape[-2:] == (p, p) else resize_nearest(probs, (p, p))
