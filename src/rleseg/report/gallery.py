"""The report's gallery: per-image scores and the worst cases' image | ground truth | prediction strips.

Every image gets a score (:func:`image_score`): its mean Dice over the foreground classes present in the
ground truth or the prediction (1.0 when neither holds any foreground: nothing to find and nothing found),
and its pixel error (fraction of pixels with the wrong class). :class:`Gallery` keeps only the ``keep``
worst images (lowest Dice first, then highest pixel error), so a large evaluation holds a bounded number of
small strips in memory.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from rleseg.report.overlay import colorize, side_by_side
from rleseg.tokenizers.resolution import resize_nearest

THUMB_SIDE = 256  # the longer side of each panel of a gallery strip, in pixels


@dataclass(frozen=True)
class ImageScore:
    """``dice``: mean Dice over the foreground classes present (in ``[0, 1]``); ``pixel_error``: wrong pixels
    over all pixels; ``classes``: how many foreground classes the mean is over (0: both sides empty)."""

    dice: float
    pixel_error: float
    classes: int


def image_score(gt: np.ndarray, pred: np.ndarray, num_classes: int) -> ImageScore:
    """Score one image ``(H, W)`` (or a clip ``(T, H, W)``) of labels in ``[0, num_classes]``.

    Dice of class ``c`` is ``2 |G_c & P_c| / (|G_c| + |P_c|)``; classes absent from both sides are left out.
    """
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth is {gt.shape} but the prediction is {pred.shape}; they must match")
    k = num_classes + 1
    g = gt.reshape(-1).astype(np.int64)
    p = pred.reshape(-1).astype(np.int64)
    if g.size and (min(g.min(), p.min()) < 0 or max(g.max(), p.max()) >= k):
        raise ValueError(
            f"labels must be in [0, {num_classes}], got [{min(g.min(), p.min())}, {max(g.max(), p.max())}]"
        )
    cm = np.bincount(g * k + p, minlength=k * k).reshape(k, k)
    tp = np.diag(cm)[1:]
    size = cm.sum(1)[1:] + cm.sum(0)[1:]  # |G_c| + |P_c|, foreground classes
    present = size > 0
    dice = float(np.mean(2 * tp[present] / size[present])) if present.any() else 1.0
    error = float(1 - np.trace(cm) / g.size) if g.size else 0.0
    return ImageScore(dice, error, int(present.sum()))


def thumbnail(
    image: np.ndarray, masks: list[np.ndarray], side: int = THUMB_SIDE
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Shrink ``image`` ``(H, W, 3)`` uint8 (box filter) and its label ``masks`` ``(H, W)`` (nearest) so that
    the longer side is at most ``side``; smaller inputs are returned as they are."""
    h, w = image.shape[:2]
    if max(h, w) <= side:
        return image, masks
    scale = side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    small = np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BOX), dtype=np.uint8)
    return small, [resize_nearest(m, size) for m in masks]


def mask_strip(gt: np.ndarray, pred: np.ndarray, num_classes: int, gap: int = 4) -> np.ndarray:
    """``ground truth | prediction`` in class colours (background black) when there is no image:
    ``(H, 2 W + gap, 3)`` uint8, dark grey between the panels."""
    h, w = gt.shape
    strip = np.full((h, 2 * w + gap, 3), 40, dtype=np.uint8)
    strip[:, :w] = colorize(gt, num_classes)
    strip[:, w + gap :] = colorize(pred, num_classes)
    return strip


@dataclass(frozen=True)
class GalleryItem:
    """One gallery entry: ``strip`` ``(h, w, 3)`` uint8 (image | ground truth | prediction, or ground truth |
    prediction without an image), its ``name`` (a video's names the frame shown) and its score."""

    name: str
    score: ImageScore
    strip: np.ndarray
    has_image: bool


@dataclass
class Gallery:
    """The ``keep`` worst images seen by :meth:`add`, and how many were seen."""

    num_classes: int
    keep: int = 24
    seen: int = 0
    _heap: list[tuple[float, float, int, GalleryItem]] = field(default_factory=list, repr=False)

    @staticmethod
    def _rank(score: ImageScore) -> tuple[float, float]:
        """Larger is worse: low Dice first, then high pixel error."""
        return (-score.dice, score.pixel_error)

    def would_keep(self, score: ImageScore) -> bool:
        """Whether an image with ``score`` would enter the gallery now (so strips are only drawn when needed)."""
        if self.keep <= 0:
            return False
        return len(self._heap) < self.keep or self._rank(score) > self._heap[0][:2]

    def add(
        self, name: str, gt: np.ndarray, pred: np.ndarray, image: np.ndarray | None, score: ImageScore | None = None
    ) -> ImageScore:
        """Score ``gt`` vs ``pred`` ``(H, W)`` (unless ``score`` is given) and keep a strip if among the worst.

        ``image``: ``(H, W, 3)`` uint8, or None for a ground truth | prediction strip. Returns the score.
        """
        score = score or image_score(gt, pred, self.num_classes)
        self.seen += 1
        if not self.would_keep(score):
            return score
        if image is not None and image.shape[:2] != gt.shape:
            image = None
        if image is None:
            _, (g, p) = thumbnail(np.zeros((*gt.shape, 3), np.uint8), [gt, pred])
            strip = mask_strip(g, p, self.num_classes)
        else:
            img, (g, p) = thumbnail(image, [gt, pred])
            strip = side_by_side(img, g, p, self.num_classes, labels=())
        item = GalleryItem(name, score, strip, image is not None)
        entry = (*self._rank(score), self.seen, item)
        if len(self._heap) < self.keep:
            heapq.heappush(self._heap, entry)
        else:
            heapq.heapreplace(self._heap, entry)
        return score

    def items(self) -> list[GalleryItem]:
        """The kept images, worst first (ties: the one seen first)."""
        return [e[3] for e in sorted(self._heap, key=lambda e: (-e[0], -e[1], e[2]))]
