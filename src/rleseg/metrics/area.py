"""Per-image area-fraction error: the paper's ice-concentration MAE (section V-B, from [17]) for any class.

For one image and one foreground class ``c`` the area fraction of a label map is the share of its
(non-ignored) pixels labelled ``c``; the error is ``|frac(pred == c) - frac(gt == c)|``, a number in
``[0, 1]``. The class-agnostic error (``"all"``) does the same with every foreground class merged
(``label > 0``), so it is ``|sum_c (frac_pred_c - frac_gt_c)|``, not the sum of the per-class errors.
Errors are summarised by their mean and median over images; every frame of a video clip is one image.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rleseg.metrics.confusion import _check_labels

AGNOSTIC_KEY = "all"


def _as_label_array(arr: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype != np.bool_ and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{what} must have an integer or bool dtype, got {a.dtype}")
    return a


def area_fractions(labels: np.ndarray, num_classes: int, valid: np.ndarray | None = None) -> np.ndarray:
    """Share of each label in each image.

    ``labels``: ``(N, H, W)`` integer array, labels in ``[0, num_classes]`` where ``valid``;
    ``valid``: ``(N, H, W)`` bool or None (all valid). Returns a float64 ``(N, num_classes + 1)``
    array, background in column 0; rows of images with no valid pixel are NaN.
    """
    k = int(num_classes) + 1
    n = labels.shape[0]
    flat = labels.reshape(n, -1).astype(np.int64, copy=False)
    offsets = (np.arange(n, dtype=np.int64) * k)[:, None]
    idx = flat + offsets
    if valid is not None:
        idx = idx[valid.reshape(n, -1)]
    counts = np.bincount(idx.reshape(-1), minlength=n * k).reshape(n, k).astype(np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    out = np.full(counts.shape, np.nan)
    np.divide(counts, totals, out=out, where=totals > 0)
    return out


def area_fraction_errors(
    gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore_index: int | None = None
) -> np.ndarray:
    """Per-image absolute area-fraction errors.

    ``gt``, ``pred``: integer arrays of identical shape ``(H, W)`` (one image) or ``(N, H, W)`` (N
    images, e.g. the frames of a clip; more leading dims are flattened into N), labels in
    ``[0, num_classes]``. ``ignore_index``: ground-truth label whose pixels are left out of both
    fractions. Returns float64 ``(N, num_classes + 1)``: column 0 is the class-agnostic error
    (all foreground merged), column ``c`` the error of class ``c``; NaN for images with every pixel
    ignored.
    """
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
    k = int(num_classes) + 1
    g = _as_label_array(gt, "ground truth")
    p = _as_label_array(pred, "prediction")
    if g.shape != p.shape:
        raise ValueError(f"ground truth has shape {g.shape} but prediction has shape {p.shape}")
    if g.ndim < 2:
        raise ValueError(f"expected (H, W) or (N, H, W) label arrays, got shape {g.shape}")
    g = g.reshape((-1, *g.shape[-2:])).astype(np.int64, copy=False)
    p = p.reshape((-1, *p.shape[-2:])).astype(np.int64, copy=False)
    valid = None if ignore_index is None else g != ignore_index
    ignore = None if valid is None else ~valid
    _check_labels(g, k, "ground truth", ignore)
    _check_labels(p, k, "prediction", ignore)
    if valid is not None:
        g = np.where(valid, g, 0)  # placeholder label; these pixels are dropped by ``valid``
        p = np.where(valid, p, 0)
    fg = area_fractions(g, num_classes, valid)
    fp = area_fractions(p, num_classes, valid)
    # Column 0 is the background error, which is also the class-agnostic one: the foreground share is
    # 1 - the background share, so |(1 - bp) - (1 - bg)| = |bp - bg|.
    return np.abs(fp - fg)


def _summary(x: np.ndarray) -> dict[str, float | None]:
    x = x[~np.isnan(x)]
    if x.size == 0:
        return {"mean": None, "median": None}
    return {"mean": float(x.mean()), "median": float(np.median(x))}


class AreaFractionError:
    """Accumulates per-image area-fraction errors over many (ground truth, prediction) pairs.

    >>> acc = AreaFractionError(num_classes=1)
    >>> acc.update(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [0, 0]]))  # 2/4 vs 1/4
    >>> acc.compute(["ice"])["ice"]
    {'mean': 0.25, 'median': 0.25}
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None) -> None:
        if int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self._chunks: list[np.ndarray] = []

    @property
    def errors(self) -> np.ndarray:
        """``(num_images, num_classes + 1)`` per-image errors, column 0 class-agnostic (see
        :func:`area_fraction_errors`)."""
        if not self._chunks:
            return np.zeros((0, self.num_classes + 1), dtype=np.float64)
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks, axis=0)]
        return self._chunks[0]

    @property
    def num_images(self) -> int:
        """Number of images (frames) added so far."""
        return int(sum(c.shape[0] for c in self._chunks))

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        """Add one image ``(H, W)`` or a stack/clip ``(N, H, W)``, each frame counted as an image."""
        self._chunks.append(area_fraction_errors(gt, pred, self.num_classes, self.ignore_index))

    def merge(self, other: AreaFractionError) -> None:
        """Add another accumulator's images (e.g. from another worker)."""
        if other.num_classes != self.num_classes:
            raise ValueError(f"cannot merge area errors of {self.num_classes} and {other.num_classes} classes")
        self._chunks.extend(c.copy() for c in other._chunks)

    def reset(self) -> None:
        """Forget every image."""
        self._chunks = []

    def compute(self, class_names: Sequence[str] | None = None) -> dict[str, Any]:
        """``{name: {"mean", "median"}, ..., "all": {"mean", "median"}}`` over images (None when no image).

        ``class_names``: the ``num_classes`` foreground names (default ``"1".."C"``); none may be ``"all"``.
        Images whose pixels are all ignored are left out of the statistics.
        """
        names = [str(i) for i in range(1, self.num_classes + 1)] if class_names is None else list(class_names)
        if len(names) != self.num_classes:
            raise ValueError(f"{len(names)} class names given for {self.num_classes} foreground classes")
        if AGNOSTIC_KEY in names:
            raise ValueError(f"a class may not be named {AGNOSTIC_KEY!r}: that key holds the class-agnostic error")
        if len(set(names)) != len(names):
            raise ValueError(f"class names must be unique, got {names}")
        err = self.errors
        out: dict[str, Any] = {name: _summary(err[:, c]) for c, name in enumerate(names, start=1)}
        out[AGNOSTIC_KEY] = _summary(err[:, 0])
        return out
