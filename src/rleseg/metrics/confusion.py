"""Confusion-matrix segmentation metrics of the paper (section V-B) and the usual pix_acc, fw_iu, mIoU.

Labels are integers ``0..C``: 0 is background, ``1..C`` are the foreground classes, so the matrix is
``(C + 1, C + 1)``. ``n[i, j]`` counts pixels of ground-truth class ``i`` predicted as class ``j``;
``t_i = sum_j n[i, j]`` (pixels of class i in the ground truth) and ``p_i = sum_j n[j, i]`` (pixels
predicted as class i).

Per class ``i``:

- recall    ``n_ii / t_i``                                      (paper eq. 1)
- precision ``n_ii / (t_i + p_i - n_ii)``                       (paper eq. 2; this is the per-class IoU,
  what the paper and its reference code call precision)
- dice      ``2 n_ii / (t_i + p_i)``                            (paper eq. 5)

Conventions for classes that are missing:

- a class absent from both the ground truth and the prediction (``t_i + p_i = 0``) has no score (NaN)
  and is **excluded from every mean**;
- a class absent from the ground truth but predicted (``t_i = 0 < p_i``) has recall 0 (0/0 taken as 0,
  as torchmetrics does), precision 0 and dice 0, and counts in the means.

Means (``mean_recall``, ``mean_precision``, ``mean_dice``) are over the foreground classes ``1..C`` that
are present, as in the paper's ``1/C sum_i``. The frequency-weighted versions weight each foreground
class by ``t_i`` (paper eqs. 3 and 4; eq. 3 as printed lacks the ``1/t_i`` inside the sum, we use the
intended ``sum_i t_i rec_i / sum_i t_i``). ``pix_acc``, ``fw_iu`` and ``miou`` follow the usual FCN
definitions over *all* classes, background included. The class-agnostic scores merge all foreground
classes into one ("cell" in the paper's tables).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _check_labels(arr: np.ndarray, num_labels: int, what: str, ignore: np.ndarray | None) -> None:
    """Raise a ValueError naming the first value outside ``[0, num_labels)`` (ignored pixels skipped)."""
    vals = arr if ignore is None else arr[~ignore]
    if vals.size == 0:
        return
    lo, hi = int(vals.min()), int(vals.max())
    if lo < 0 or hi >= num_labels:
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"{what} holds label {bad}; expected labels in [0, {num_labels - 1}] "
            f"(num_classes={num_labels - 1} foreground classes plus background 0)"
        )


def confusion_matrix(gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """Confusion matrix of two label arrays of the same shape.

    ``gt``, ``pred``: integer (or bool) arrays of any identical shape, labels in ``[0, num_classes]``.
    ``ignore_index``: ground-truth label whose pixels are skipped (e.g. 255); None skips nothing.
    Returns an int64 ``(num_classes + 1, num_classes + 1)`` array ``n`` with ``n[i, j]`` = pixels of
    class ``i`` predicted as ``j``.
    """
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
    k = int(num_classes) + 1
    g = np.asarray(gt)
    p = np.asarray(pred)
    if g.shape != p.shape:
        raise ValueError(f"ground truth has shape {g.shape} but prediction has shape {p.shape}")
    for arr, what in ((g, "ground truth"), (p, "prediction")):
        if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{what} must have an integer or bool dtype, got {arr.dtype}")
    g = g.reshape(-1).astype(np.int64, copy=False)
    p = p.reshape(-1).astype(np.int64, copy=False)
    ignore = None
    if ignore_index is not None:
        ignore = g == ignore_index
    _check_labels(g, k, "ground truth", ignore)
    _check_labels(p, k, "prediction", ignore)
    if ignore is not None and ignore.any():
        g, p = g[~ignore], p[~ignore]
    return np.bincount(g * k + p, minlength=k * k).reshape(k, k).astype(np.int64, copy=False)


class ConfusionMatrix:
    """Accumulates a ``(C + 1, C + 1)`` confusion matrix over many (ground truth, prediction) pairs.

    >>> cm = ConfusionMatrix(num_classes=2)
    >>> cm.update(np.array([[0, 1], [2, 2]]), np.array([[0, 1], [1, 2]]))
    >>> cm.matrix.tolist()
    [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None) -> None:
        if int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.matrix = np.zeros((self.num_classes + 1, self.num_classes + 1), dtype=np.int64)

    def update(self, gt: np.ndarray, pred: np.ndarray) -> None:
        """Add the pixels of one pair of label arrays of identical shape (``(H, W)``, ``(N, H, W)``, ...)."""
        self.matrix += confusion_matrix(gt, pred, self.num_classes, self.ignore_index)

    def merge(self, other: ConfusionMatrix) -> None:
        """Add another accumulator's counts (e.g. from another worker)."""
        if other.matrix.shape != self.matrix.shape:
            raise ValueError(f"cannot merge confusion matrices of shapes {self.matrix.shape} and {other.matrix.shape}")
        self.matrix += other.matrix

    def reset(self) -> None:
        """Set every count back to 0."""
        self.matrix[:] = 0

    def compute(self, class_names: Sequence[str] | None = None) -> dict[str, Any]:
        """All metrics of the accumulated counts: see :func:`segmentation_metrics`."""
        return segmentation_metrics(self.matrix, class_names)


# ----- per-class scores -------------------------------------------------------------------------------
def _as_matrix(cm: np.ndarray) -> np.ndarray:
    m = np.asarray(cm)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2:
        raise ValueError(f"confusion matrix must be square with at least 2 labels, got shape {m.shape}")
    return m.astype(np.float64)


def _totals(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(n_ii, t_i, p_i)``: diagonal, ground-truth totals (row sums), predicted totals (column sums)."""
    return np.diag(m), m.sum(axis=1), m.sum(axis=0)


def present_classes(cm: np.ndarray) -> np.ndarray:
    """``(K,)`` bool: classes in the ground truth or in the prediction (``t_i + p_i > 0``)."""
    _, t, p = _totals(_as_matrix(cm))
    return (t + p) > 0


def _ratio(num: np.ndarray, den: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``num / den`` where ``den > 0``; 0 for present classes with ``den == 0``; NaN for absent classes."""
    out = np.zeros(num.shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    out[~present] = np.nan
    return out


def per_class_recall(cm: np.ndarray) -> np.ndarray:
    """``(K,)`` recall ``n_ii / t_i`` of every label, background first; NaN for absent classes."""
    m = _as_matrix(cm)
    n, t, p = _totals(m)
    return _ratio(n, t, (t + p) > 0)


def per_class_precision(cm: np.ndarray) -> np.ndarray:
    """``(K,)`` precision as in the paper, i.e. IoU ``n_ii / (t_i + p_i - n_ii)``; NaN for absent classes."""
    m = _as_matrix(cm)
    n, t, p = _totals(m)
    return _ratio(n, t + p - n, (t + p) > 0)


per_class_iou = per_class_precision


def per_class_dice(cm: np.ndarray) -> np.ndarray:
    """``(K,)`` dice ``2 n_ii / (t_i + p_i)``; NaN for absent classes."""
    m = _as_matrix(cm)
    n, t, p = _totals(m)
    return _ratio(2.0 * n, t + p, (t + p) > 0)


def _nanmean(x: np.ndarray) -> float:
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else float("nan")


# ----- means ------------------------------------------------------------------------------------------
def mean_recall(cm: np.ndarray) -> float:
    """Mean recall over the present foreground classes (paper eq. 1); NaN when none is present."""
    return _nanmean(per_class_recall(cm)[1:])


def mean_precision(cm: np.ndarray) -> float:
    """Mean precision (IoU) over the present foreground classes (paper eq. 2); NaN when none is present."""
    return _nanmean(per_class_precision(cm)[1:])


def mean_dice(cm: np.ndarray) -> float:
    """Mean dice over the present foreground classes (paper eq. 5); NaN when none is present."""
    return _nanmean(per_class_dice(cm)[1:])


def _fw(scores: np.ndarray, cm: np.ndarray) -> float:
    _, t, _ = _totals(_as_matrix(cm))
    w = t[1:]
    if w.sum() <= 0:
        return float("nan")
    s = np.nan_to_num(scores[1:], nan=0.0)  # absent classes have t_i = 0 and weight 0
    return float((w * s).sum() / w.sum())


def fw_recall(cm: np.ndarray) -> float:
    """Frequency-weighted recall over foreground classes: ``sum_i t_i rec_i / sum_i t_i`` (paper eq. 3)."""
    return _fw(per_class_recall(cm), cm)


def fw_precision(cm: np.ndarray) -> float:
    """Frequency-weighted precision (IoU) over foreground classes (paper eq. 4); NaN without foreground."""
    return _fw(per_class_precision(cm), cm)


def pix_acc(cm: np.ndarray) -> float:
    """Pixel accuracy over all labels, background included: ``sum_i n_ii / sum_i t_i``."""
    m = _as_matrix(cm)
    total = m.sum()
    return float(np.trace(m) / total) if total > 0 else float("nan")


def fw_iu(cm: np.ndarray) -> float:
    """Frequency-weighted IoU over all labels, background included (FCN definition)."""
    m = _as_matrix(cm)
    _, t, _ = _totals(m)
    if t.sum() <= 0:
        return float("nan")
    return float((t * np.nan_to_num(per_class_precision(m), nan=0.0)).sum() / t.sum())


def miou(cm: np.ndarray) -> float:
    """Mean IoU over all present labels, background included (FCN ``mean_IU``)."""
    return _nanmean(per_class_precision(cm))


def class_agnostic(cm: np.ndarray) -> np.ndarray:
    """Merge all foreground classes into one: ``(K, K)`` -> ``(2, 2)`` matrix of background vs foreground."""
    m = np.asarray(cm)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2:
        raise ValueError(f"confusion matrix must be square with at least 2 labels, got shape {m.shape}")
    return np.array([[m[0, 0], m[0, 1:].sum()], [m[1:, 0].sum(), m[1:, 1:].sum()]], dtype=m.dtype)


def _clean(x: float) -> float | None:
    """NaN -> None so that the result serialises to JSON."""
    return None if np.isnan(x) else float(x)


def segmentation_metrics(cm: np.ndarray, class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Every metric of a ``(C + 1, C + 1)`` confusion matrix, as a JSON-ready dict (NaN written as None).

    Keys: ``pix_acc``, ``fw_iu``, ``miou``, ``recall``, ``precision``, ``dice`` (means over present
    foreground classes), ``fw_recall``, ``fw_precision``, ``per_class`` (``{name: {recall, precision,
    dice}}`` for foreground classes, named ``class_names`` or ``"1".."C"``) and ``agnostic``
    (``{recall, precision, dice}`` of all foreground classes merged).
    """
    m = np.asarray(cm)
    num_fg = m.shape[0] - 1
    names = [str(i) for i in range(1, num_fg + 1)] if class_names is None else list(class_names)
    if len(names) != num_fg:
        raise ValueError(f"{len(names)} class names given for {num_fg} foreground classes")
    rec, prec, dice = per_class_recall(m), per_class_precision(m), per_class_dice(m)
    agn = class_agnostic(m)
    return {
        "pix_acc": _clean(pix_acc(m)),
        "fw_iu": _clean(fw_iu(m)),
        "miou": _clean(miou(m)),
        "recall": _clean(mean_recall(m)),
        "precision": _clean(mean_precision(m)),
        "dice": _clean(mean_dice(m)),
        "fw_recall": _clean(fw_recall(m)),
        "fw_precision": _clean(fw_precision(m)),
        "per_class": {
            name: {"recall": _clean(rec[i]), "precision": _clean(prec[i]), "dice": _clean(dice[i])}
            for i, name in enumerate(names, start=1)
        },
        "agnostic": {
            "recall": _clean(per_class_recall(agn)[1]),
            "precision": _clean(per_class_precision(agn)[1]),
            "dice": _clean(per_class_dice(agn)[1]),
        },
    }
