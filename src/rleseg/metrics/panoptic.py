"""Panoptic quality (PQ, SQ, RQ; Kirillov et al., "Panoptic Segmentation", CVPR 2019) of instance-aware output.

Inputs are our usual pair of arrays per side: a class mask (labels ``0..C``, 0 = background) and an instance
mask of the same shape (0 = no instance). They define **segments**, per image:

- a pixel of class ``c >= 1`` with instance id ``k > 0`` belongs to the thing segment ``(c, k)``; one instance
  id spread over two classes gives two segments, one per class (as in torchmetrics' ``(category, instance)``
  pairs);
- the pixels of class ``c`` with instance 0 form one stuff segment ``(c, 0)``; for the classes listed in
  ``stuff_classes`` every instance id is ignored, so the whole class is one segment;
- background (class 0) is one segment that is never scored: it is not a PQ class (like the background row
  left out of the ``metrics.json`` means), but it is not void either, so a prediction spilling into the
  background grows the union of its IoU and an unmatched prediction is a false positive.

A predicted and a ground-truth segment of the same class **match** when their IoU is above 0.5 (such a match
is necessarily unique). Per class, over all images: ``TP`` matched pairs, ``FP`` unmatched predicted segments,
``FN`` unmatched ground-truth segments, and

    SQ = sum of matched IoU / TP              (0 when TP = 0, as in panopticapi and torchmetrics)
    RQ = TP / (TP + FP/2 + FN/2)
    PQ = SQ * RQ = sum of matched IoU / (TP + FP/2 + FN/2)

A class **appears** when ``TP + FP + FN > 0`` (it has a segment in the ground truth or in the prediction);
other classes have no score (None) and the overall PQ, SQ and RQ are the plain means over the classes that
appear.

Void (only with ``ignore_index``): ground-truth pixels labelled ``ignore_index`` are void, as in panopticapi:
they belong to no ground-truth segment, a predicted segment's void pixels are left out of its IoU union, and an
unmatched predicted segment more than half void is not a false positive. Without ``ignore_index`` nothing is
void (there is no void label).

Clips ``(N, H, W)`` are scored as **one volume**: a segment is the set of its voxels over all frames (the same
instance id in two frames is one segment, as in video panoptic quality), so an instance is matched once per
clip, not once per frame. Score frames as separate images by passing them one at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MATCH_IOU = 0.5  # a pair matches when IoU > MATCH_IOU (strictly)


@dataclass
class PanopticStats:
    """Per-class counts of one or more images: arrays ``(C + 1,)`` indexed by class id (index 0 unused).

    ``iou_sum``: float64 sum of matched IoU; ``tp``, ``fp``, ``fn``: int64 counts of matched pairs,
    unmatched predicted and unmatched ground-truth segments.
    """

    iou_sum: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray

    @classmethod
    def zeros(cls, num_classes: int) -> PanopticStats:
        """All-zero counts for ``num_classes`` foreground classes."""
        k = num_classes + 1
        return cls(np.zeros(k, np.float64), np.zeros(k, np.int64), np.zeros(k, np.int64), np.zeros(k, np.int64))

    def __iadd__(self, other: PanopticStats) -> PanopticStats:
        if other.tp.shape != self.tp.shape:
            raise ValueError(f"cannot add panoptic counts of {other.tp.size - 1} and {self.tp.size - 1} classes")
        self.iou_sum += other.iou_sum
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        return self


def _as_int(arr: np.ndarray, what: str) -> np.ndarray:
    """Flatten to int64; ValueError unless the dtype is integer or bool."""
    a = np.asarray(arr)
    if a.dtype != np.bool_ and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{what} must have an integer or bool dtype, got {a.dtype}")
    return a.reshape(-1).astype(np.int64, copy=False)


def _check_range(values: np.ndarray, hi: int, what: str) -> None:
    """ValueError naming the first value outside ``[0, hi]``."""
    if values.size == 0:
        return
    lo_v, hi_v = int(values.min()), int(values.max())
    if lo_v < 0 or hi_v > hi:
        bad = lo_v if lo_v < 0 else hi_v
        raise ValueError(f"{what} holds label {bad}; expected labels in [0, {hi}] ({hi} foreground classes)")


def panoptic_stats(
    gt_mask: np.ndarray,
    gt_instances: np.ndarray,
    pred_mask: np.ndarray,
    pred_instances: np.ndarray,
    num_classes: int,
    stuff_classes: Collection[int] = (),
    ignore_index: int | None = None,
) -> PanopticStats:
    """Matched IoU sums and TP/FP/FN per class of one image ``(H, W)`` or one clip volume ``(N, H, W)``.

    All four arrays have one shape (any shape works: it is flattened); class masks hold labels in
    ``[0, num_classes]`` (ground-truth pixels equal to ``ignore_index`` are void; predicted labels at void
    pixels are not checked), instance masks ids ``>= 0``. ``stuff_classes``: class ids whose instance ids
    are ignored. Raises ValueError on a shape, dtype or label problem. See the module docstring.
    """
    shapes = {np.shape(a) for a in (gt_mask, gt_instances, pred_mask, pred_instances)}
    if len(shapes) != 1:
        raise ValueError(
            "ground truth mask, ground truth instances, prediction mask and prediction instances must have one "
            f"shape, got {np.shape(gt_mask)}, {np.shape(gt_instances)}, {np.shape(pred_mask)}, "
            f"{np.shape(pred_instances)}"
        )
    c = int(num_classes)
    g_cls, p_cls = _as_int(gt_mask, "ground truth mask"), _as_int(pred_mask, "prediction mask")
    g_ins, p_ins = _as_int(gt_instances, "ground truth instances"), _as_int(pred_instances, "prediction instances")
    void = (g_cls == ignore_index) if ignore_index is not None else np.zeros(g_cls.shape, dtype=bool)
    keep = ~void
    _check_range(g_cls[keep], c, "ground truth mask")
    _check_range(p_cls[keep], c, "prediction mask")
    for ins, what in ((g_ins, "ground truth instances"), (p_ins, "prediction instances")):
        if ins.size and int(ins.min()) < 0:
            raise ValueError(f"{what} holds negative id {int(ins.min())}; expected ids >= 0")
    p_cls = np.where(keep | ((p_cls >= 0) & (p_cls <= c)), p_cls, 0)  # unchecked labels at void pixels

    # class ids whose instance ids do not count: background and the stuff classes
    instance_free = np.zeros(c + 1, dtype=bool)
    instance_free[0] = True
    for s in stuff_classes:
        if not 1 <= int(s) <= c:
            raise ValueError(f"stuff class {s} is not a foreground class id in [1, {c}]")
        instance_free[int(s)] = True
    g_ins = np.where(instance_free[np.where(keep, g_cls, 0)], 0, g_ins)
    p_ins = np.where(instance_free[p_cls], 0, p_ins)

    # one int64 key per segment: class * M + instance
    m = max(int(g_ins.max(initial=0)), int(p_ins.max(initial=0))) + 1
    g_keys, g_inv, g_area = np.unique((g_cls * m + g_ins)[keep], return_inverse=True, return_counts=True)
    p_keys, p_inv, p_area = np.unique(p_cls * m + p_ins, return_inverse=True, return_counts=True)
    g_inv, p_inv = g_inv.reshape(-1), p_inv.reshape(-1)
    g_seg_cls, p_seg_cls = g_keys // m, p_keys // m
    p_void = np.bincount(p_inv[void], minlength=p_keys.size)  # void pixels inside each predicted segment

    # intersections of (gt segment, predicted segment) pairs over non-void pixels
    pairs, inter = np.unique(g_inv * p_keys.size + p_inv[keep], return_counts=True)
    gi, pi = pairs // p_keys.size, pairs % p_keys.size
    cls = g_seg_cls[gi]
    same = (cls == p_seg_cls[pi]) & (cls > 0)
    gi, pi, inter, cls = gi[same], pi[same], inter[same], cls[same]
    iou = inter / (p_area[pi] - p_void[pi] + g_area[gi] - inter)
    hit = iou > MATCH_IOU
    gi, pi, iou, cls = gi[hit], pi[hit], iou[hit], cls[hit]

    stats = PanopticStats.zeros(c)
    stats.iou_sum += np.bincount(cls, weights=iou, minlength=c + 1)
    stats.tp += np.bincount(cls, minlength=c + 1)
    g_free = np.ones(g_keys.size, dtype=bool)
    g_free[gi] = False
    stats.fn += np.bincount(g_seg_cls[g_free & (g_seg_cls > 0)], minlength=c + 1)
    p_free = np.ones(p_keys.size, dtype=bool)
    p_free[pi] = False
    p_free &= (p_seg_cls > 0) & (2 * p_void <= p_area)  # mostly-void predictions are not false positives
    stats.fp += np.bincount(p_seg_cls[p_free], minlength=c + 1)
    return stats


def _none_if_nan(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def panoptic_scores(stats: PanopticStats, class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """``{"pq", "sq", "rq", "per_class": {name: {"pq", "sq", "rq"}}}`` of accumulated counts.

    ``class_names``: the ``C`` foreground names (default ``"1".."C"``). A class that does not appear gets
    None for all three; the overall scores are means over the classes that appear (None when none does).
    """
    num_fg = stats.tp.size - 1
    names = [str(i) for i in range(1, num_fg + 1)] if class_names is None else [str(n) for n in class_names]
    if len(names) != num_fg:
        raise ValueError(f"{len(names)} class names given for {num_fg} foreground classes")
    tp, fp, fn = (a[1:].astype(np.float64) for a in (stats.tp, stats.fp, stats.fn))
    iou_sum = stats.iou_sum[1:]
    den = tp + 0.5 * fp + 0.5 * fn
    present = den > 0
    sq = np.zeros(num_fg)
    np.divide(iou_sum, tp, out=sq, where=tp > 0)
    rq = np.zeros(num_fg)
    np.divide(tp, den, out=rq, where=present)
    pq = sq * rq
    for a in (sq, rq, pq):
        a[~present] = np.nan
    any_present = bool(present.any())
    overall = {k: float(v[present].mean()) if any_present else None for k, v in (("pq", pq), ("sq", sq), ("rq", rq))}
    return {
        **overall,
        "per_class": {
            name: {"pq": _none_if_nan(pq[i]), "sq": _none_if_nan(sq[i]), "rq": _none_if_nan(rq[i])}
            for i, name in enumerate(names)
        },
    }


class PanopticQuality:
    """Accumulates panoptic quality over many images (or clip volumes); see the module docstring.

    ``num_classes``: foreground classes ``C`` (labels ``1..C``; 0 is background, never scored);
    ``stuff_classes``: class ids whose instance ids are ignored (one segment per class and image);
    ``ignore_index``: ground-truth label of void pixels, or None for no void.

    >>> pq = PanopticQuality(num_classes=1)
    >>> gt_ins, pred_ins = np.array([[1, 1, 0, 2]]), np.array([[1, 1, 0, 0]])
    >>> pq.update(gt_ins > 0, gt_ins, pred_ins > 0, pred_ins)
    >>> r = pq.compute(["cell"])
    >>> r["pq"], r["sq"], r["rq"]  # one exact match, one missed instance: TP 1, FN 1
    (0.6666666666666666, 1.0, 0.6666666666666666)
    """

    def __init__(self, num_classes: int, stuff_classes: Collection[int] = (), ignore_index: int | None = None) -> None:
        if int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
        self.num_classes = int(num_classes)
        self.stuff_classes = tuple(sorted({int(s) for s in stuff_classes}))
        for s in self.stuff_classes:
            if not 1 <= s <= self.num_classes:
                raise ValueError(f"stuff class {s} is not a foreground class id in [1, {self.num_classes}]")
        self.ignore_index = ignore_index
        self.stats = PanopticStats.zeros(self.num_classes)
        self.num_images = 0

    def stats_of(
        self, gt_mask: np.ndarray, gt_instances: np.ndarray, pred_mask: np.ndarray, pred_instances: np.ndarray
    ) -> PanopticStats:
        """The counts of one image ``(H, W)`` or clip ``(N, H, W)``, without adding them (see :meth:`add`)."""
        return panoptic_stats(
            gt_mask, gt_instances, pred_mask, pred_instances, self.num_classes, self.stuff_classes, self.ignore_index
        )

    def add(self, stats: PanopticStats, num_images: int = 1) -> None:
        """Add counts made by :meth:`stats_of` (for ``num_images`` images)."""
        self.stats += stats
        self.num_images += num_images

    def update(
        self, gt_mask: np.ndarray, gt_instances: np.ndarray, pred_mask: np.ndarray, pred_instances: np.ndarray
    ) -> None:
        """Add one image ``(H, W)``, or one clip ``(N, H, W)`` scored as a single volume; all four arrays of one
        shape, class masks in ``[0, C]``, instance ids ``>= 0``. A bad input raises ValueError and adds nothing."""
        self.add(self.stats_of(gt_mask, gt_instances, pred_mask, pred_instances))

    def merge(self, other: PanopticQuality) -> None:
        """Add another accumulator's counts (e.g. from another worker)."""
        if (other.num_classes, other.stuff_classes, other.ignore_index) != (
            self.num_classes,
            self.stuff_classes,
            self.ignore_index,
        ):
            raise ValueError("cannot merge panoptic accumulators with different classes, stuff classes or void")
        self.add(other.stats, other.num_images)

    def reset(self) -> None:
        """Forget everything added."""
        self.stats = PanopticStats.zeros(self.num_classes)
        self.num_images = 0

    def compute(self, class_names: Sequence[str] | None = None) -> dict[str, Any]:
        """``{"pq", "sq", "rq", "per_class": {name: {"pq", "sq", "rq"}}}``: see :func:`panoptic_scores`."""
        return panoptic_scores(self.stats, class_names)
