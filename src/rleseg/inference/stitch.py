"""Merging overlapping window predictions into one full-size mask (paper III-B1).

Every window's prediction (already upsampled from S back to the window size P) is pasted at its place;
where windows overlap, a pixel's label is the most frequent one (``vote``, the paper's best; ties go to the
lower label, so to background), foreground when at least half of the windows say so, with the foreground
class most of those gave (``fg-vote``: a small object that two of four windows found is kept, where ``vote``
drops it; the class votes may be weighted, see :func:`foreground_vote`), the one of the last window
(``latest``), the largest / smallest label (``max`` / ``min``), or the class of highest mean probability
(``average``: per-pixel models give class probabilities; a window given without them counts as probability
1 for its label, so ``average`` of labels alone equals ``vote``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

MERGE_RULES = ("vote", "fg-vote", "latest", "max", "min", "average")
COUNTING_RULES = ("vote", "fg-vote")  # rules that count every window's label per pixel
ONE_HOT_MAX_CLASSES = 64  # votes are counted class by class below this many classes, scattered above


class WindowMerger:
    """Accumulates ``(P, P)`` (or ``(N, P, P)``) window labels at ``(y, x)`` (and frame ``t``) into a canvas.

    ``shape``: ``(H, W)`` or ``(T, H, W)`` of the full prediction; ``num_classes``: largest label (for votes).
    Windows may stick out past the canvas (padded windows); what lies outside is ignored. ``class_weights``
    ``(C + 1,)``: weights of each class's votes when ``fg-vote`` picks a foreground pixel's class (None: 1).
    """

    def __init__(
        self, shape: tuple[int, ...], num_classes: int, rule: str = "vote", class_weights: np.ndarray | None = None
    ) -> None:
        if rule not in MERGE_RULES:
            raise ValueError(f"merge rule must be one of {', '.join(MERGE_RULES)}, got {rule!r}")
        self.shape, self.rule, self.num_classes = tuple(shape), rule, int(num_classes)
        self.class_weights = class_weights
        if rule in COUNTING_RULES:
            self.votes = np.zeros((self.num_classes + 1, *self.shape), dtype=np.int32)
        if rule == "average":
            self.sums = np.zeros((self.num_classes + 1, *self.shape), dtype=np.float32)
        # -1 where no window has been pasted yet, else a label (or, for vote and average, 0: covered)
        self.canvas = np.full(self.shape, -1, dtype=np.int16 if self.num_classes < 2**15 else np.int64)
        self._labels = np.arange(self.num_classes + 1).reshape(-1, *([1] * len(self.shape)))  # (C + 1, 1, ...)

    def add(self, labels: np.ndarray, y: int, x: int, t: int = 0, probs: np.ndarray | None = None) -> None:
        """Paste one window's labels with its top-left corner at ``(y, x)`` (first frame ``t`` for clips).

        ``probs``: class probabilities ``(C + 1, *labels.shape)`` of the window, used by ``average``."""
        video = len(self.shape) == 3
        h, w = self.shape[-2:]
        ph, pw = min(labels.shape[-2], h - y), min(labels.shape[-1], w - x)
        if ph <= 0 or pw <= 0:
            return
        if video:
            nt = min(labels.shape[0], self.shape[0] - t)
            patch = labels[:nt, :ph, :pw].astype(np.int64)
            region: tuple[slice, ...] = (slice(t, t + nt), slice(y, y + ph), slice(x, x + pw))
        else:
            patch = labels[:ph, :pw].astype(np.int64)
            region = (slice(y, y + ph), slice(x, x + pw))
        if patch.size and (patch.min() < 0 or patch.max() > self.num_classes):
            raise ValueError(f"window labels must lie in [0, {self.num_classes}], got {patch.min()}..{patch.max()}")
        current = self.canvas[region]
        if self.rule == "average":
            if probs is None:
                self._count(self.sums, patch, region)
            else:
                if probs.shape != (self.num_classes + 1, *labels.shape):
                    raise ValueError(
                        f"window probabilities must be {(self.num_classes + 1, *labels.shape)}, got {probs.shape}"
                    )
                crop = (slice(None),) + tuple(slice(0, n) for n in patch.shape)  # probs of the pasted part
                self.sums[(slice(None),) + region] += probs[crop]
            current[...] = np.maximum(current, 0)
        elif self.rule in COUNTING_RULES:
            self._count(self.votes, patch, region)
            current[...] = np.maximum(current, 0)
        elif self.rule == "latest":
            current[...] = patch
        elif self.rule == "max":
            current[...] = np.maximum(current, patch)
        else:
            current[...] = np.where(current < 0, patch, np.minimum(current, patch))

    def _count(self, counts: np.ndarray, patch: np.ndarray, region: tuple[slice, ...]) -> None:
        """Add one to ``counts[label, pixel]`` for every pixel of ``region`` and its label in ``patch``."""
        if self.num_classes < ONE_HOT_MAX_CLASSES:  # one comparison per class beats np.add.at's scatter
            counts[(slice(None),) + region] += patch[None] == self._labels
        else:
            np.add.at(counts, (patch, *np.indices(patch.shape) + _offsets(region)), 1)

    def result(self) -> np.ndarray:
        """The merged labels, ``shape``; pixels no window covered are 0 (background)."""
        if self.rule == "fg-vote":
            return foreground_vote(self.votes, self.class_weights)
        if self.rule in ("vote", "average"):
            merged = (self.votes if self.rule == "vote" else self.sums).argmax(axis=0)
            merged[self.canvas < 0] = 0  # in place: no second full-size array
            return merged
        return np.where(self.canvas < 0, 0, self.canvas).astype(np.int64, copy=False)


def foreground_vote(votes: np.ndarray, class_weights: np.ndarray | None = None) -> np.ndarray:
    """Labels from per-pixel vote counts ``(C + 1, *shape)`` (background first): a pixel is foreground when at
    least half of its votes are (ties included), and then takes the foreground class with the most votes, each
    class's votes times its weight in ``class_weights`` ``(C + 1,)`` when given (ties to the lower class);
    pixels without votes are background. Returns int64 ``shape``."""
    fg = votes[1:].sum(axis=0, dtype=np.int64)
    scores = votes[1:]
    if class_weights is not None:
        weights = np.asarray(class_weights, dtype=np.float64)
        if weights.shape != (votes.shape[0],):
            raise ValueError(f"class weights must be ({votes.shape[0]},), one per label, got {weights.shape}")
        scores = scores * weights[1:].reshape(-1, *([1] * (votes.ndim - 1)))
    merged = scores.argmax(axis=0).astype(np.int64) + 1
    merged[(fg == 0) | (fg < votes[0])] = 0
    return merged


def _offsets(region: tuple[slice, ...]) -> np.ndarray:
    return np.array([s.start for s in region]).reshape(-1, *([1] * len(region)))


def merge_windows(
    windows: Iterable[tuple[np.ndarray, int, int]],
    shape: tuple[int, int],
    num_classes: int,
    rule: str = "vote",
    class_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Merge ``(labels (P, P), y, x)`` windows into an ``(H, W)`` mask with ``rule`` (``class_weights``: of
    ``fg-vote``'s class choice)."""
    merger = WindowMerger(shape, num_classes, rule, class_weights)
    for labels, y, x in windows:
        merger.add(labels, y, x)
    return merger.result()
