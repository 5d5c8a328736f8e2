"""The ``metrics.json`` report: confusion-matrix metrics (paper section V-B) plus per-image area-fraction errors.

Layout (every score a fraction in ``[0, 1]``, None where undefined, background left out of ``classes``,
``per_class`` and the means)::

    {
      "classes": ["ipsc", "dfc"],                                  # foreground class names, in label order 1..C
      "per_class": {"ipsc": {"recall": .., "precision": .., "dice": ..}, ...},
      "mean": {"recall": .., "precision": .., "dice": ..},        # over present foreground classes
      "frequency_weighted": {"recall": .., "precision": ..},      # foreground classes weighted by t_i
      "class_agnostic": {"recall": .., "precision": .., "dice": ..},  # all foreground classes merged
      "pix_acc": .., "fw_iu": .., "miou": ..,                      # over all labels, background included
      "area_fraction_error": {"ipsc": {"mean": .., "median": ..}, ..., "all": {"mean": .., "median": ..}},
      "num_images": 12,
      "confusion_matrix": {"labels": ["background", "ipsc", "dfc"],  # rows: truth, columns: prediction
                           "pixels": [[n_00, n_01, n_02], ...]},    # n_ij pixels of label i predicted as j
      "panoptic": {"pq": .., "sq": .., "rq": ..,                   # only when instance masks were given
                   "per_class": {"ipsc": {"pq": .., "sq": .., "rq": ..}, ...},
                   "num_images": 12}                               # images (clips: volumes) with instances
    }

"precision" is the paper's (per-class IoU); see :mod:`.confusion` for the definitions and the conventions
for missing classes, :mod:`.area` for the area-fraction error and :mod:`.panoptic` for panoptic quality.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rleseg.atomic import atomic_path
from rleseg.metrics.area import AreaFractionError
from rleseg.metrics.confusion import ConfusionMatrix, segmentation_metrics
from rleseg.metrics.panoptic import PanopticQuality

REPORT_KEYS = (
    "classes",
    "per_class",
    "mean",
    "frequency_weighted",
    "class_agnostic",
    "pix_acc",
    "fw_iu",
    "miou",
    "area_fraction_error",
    "num_images",
    "confusion_matrix",
)


def metrics_report(
    cm: np.ndarray | ConfusionMatrix,
    class_names: Sequence[str],
    area: AreaFractionError | None = None,
    num_images: int | None = None,
) -> dict[str, Any]:
    """The ``metrics.json`` dict (layout in the module docstring) of accumulated counts.

    ``cm``: ``(C + 1, C + 1)`` confusion matrix (background label 0 first) or its accumulator;
    ``class_names``: the ``C`` foreground names (no background), unique, none called ``"all"``;
    ``area``: per-image area-fraction errors of the same images, or None (then every area statistic is
    None); ``num_images``: defaults to ``area.num_images`` (None without ``area``).
    """
    m = cm.matrix if isinstance(cm, ConfusionMatrix) else np.asarray(cm)
    names = [str(n) for n in class_names]
    if len(set(names)) != len(names):
        raise ValueError(f"class names must be unique, got {names}")
    s = segmentation_metrics(m, names)  # checks the shape and the number of names
    num_fg = m.shape[0] - 1
    if area is None:
        area = AreaFractionError(num_fg)
    elif area.num_classes != num_fg:
        raise ValueError(f"area errors are of {area.num_classes} classes, the confusion matrix of {num_fg}")
    elif num_images is None:
        num_images = area.num_images
    return {
        "classes": names,
        "per_class": s["per_class"],
        "mean": {"recall": s["recall"], "precision": s["precision"], "dice": s["dice"]},
        "frequency_weighted": {"recall": s["fw_recall"], "precision": s["fw_precision"]},
        "class_agnostic": dict(s["agnostic"]),
        "pix_acc": s["pix_acc"],
        "fw_iu": s["fw_iu"],
        "miou": s["miou"],
        "area_fraction_error": area.compute(names),
        "num_images": None if num_images is None else int(num_images),
        "confusion_matrix": {"labels": ["background", *names], "pixels": m.astype(np.int64).tolist()},
    }


def _jsonable(x: Any) -> Any:
    """Plain JSON values: numpy scalars to Python, NaN/inf to None, tuples and arrays to lists."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def write_metrics_json(report: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``report`` as pretty-printed JSON at ``path``, atomically; returns the path.

    The folder is created if needed; the text goes to a temporary file in that folder which then replaces
    ``path``, so a reader never sees a half-written file. NaN and infinities are written as null.
    """
    dest = Path(path)
    text = json.dumps(_jsonable(report), indent=2, allow_nan=False) + "\n"
    with atomic_path(dest) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return dest


class SegmentationEvaluator:
    """Accumulates the confusion matrix and the per-image area errors of many (ground truth, prediction) pairs.

    ``class_names``: the ``C`` foreground names, for labels ``1..C`` (label 0 is background and is not
    named; pass ``task.class_names[1:]`` where a list starts with the background).

    >>> ev = SegmentationEvaluator(["ice"])
    >>> ev.update(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [0, 0]]))
    >>> r = ev.report()
    >>> r["per_class"]["ice"]["recall"], r["area_fraction_error"]["ice"]["mean"], r["num_images"]
    (0.5, 0.25, 1)

    Instance masks (optional, per pair) add panoptic quality: the report then gains ``"panoptic"``
    (:mod:`.panoptic`; ``stuff_classes`` are class ids whose instance ids are ignored). It covers only the
    pairs given with instances, counted in its own ``num_images``.
    """

    def __init__(
        self, class_names: Sequence[str], ignore_index: int | None = None, stuff_classes: Sequence[int] = ()
    ) -> None:
        self.class_names = [str(n) for n in class_names]
        if not self.class_names:
            raise ValueError("at least one foreground class name is needed")
        self.cm = ConfusionMatrix(len(self.class_names), ignore_index)
        self.area = AreaFractionError(len(self.class_names), ignore_index)
        self.panoptic = PanopticQuality(len(self.class_names), stuff_classes, ignore_index)
        metrics_report(self.cm, self.class_names, self.area)  # fail now on bad names, not at the end

    @property
    def num_classes(self) -> int:
        """Number of foreground classes ``C``."""
        return self.cm.num_classes

    def update(
        self,
        gt: np.ndarray,
        pred: np.ndarray,
        gt_instances: np.ndarray | None = None,
        pred_instances: np.ndarray | None = None,
    ) -> None:
        """Add one image ``(H, W)`` or a stack/clip ``(N, H, W)`` (each frame one image), labels in ``[0, C]``.

        ``gt_instances``, ``pred_instances``: optional instance ids of the same shape (0 = no instance). When
        either is given the pair also counts for panoptic quality (a clip as one volume); a missing side is
        taken as all 0 (every class one segment). A bad pair raises ValueError and adds to nothing.
        """
        stats = None
        if gt_instances is not None or pred_instances is not None:
            gi = np.zeros(np.shape(gt), np.int64) if gt_instances is None else gt_instances
            pi = np.zeros(np.shape(pred), np.int64) if pred_instances is None else pred_instances
            stats = self.panoptic.stats_of(gt, gi, pred, pi)  # checks everything before adding anything
        self.area.update(gt, pred)  # checks first (incl. the shape), so that a bad pair adds to neither
        self.cm.update(gt, pred)
        if stats is not None:
            self.panoptic.add(stats)

    def merge(self, other: SegmentationEvaluator) -> None:
        """Add another evaluator's counts and images (e.g. from another worker)."""
        if other.class_names != self.class_names:
            raise ValueError(f"cannot merge evaluators of classes {self.class_names} and {other.class_names}")
        self.panoptic.merge(other.panoptic)  # checks first, so that a bad merge adds to nothing
        self.cm.merge(other.cm)
        self.area.merge(other.area)

    def reset(self) -> None:
        """Forget everything added."""
        self.cm.reset()
        self.area.reset()
        self.panoptic.reset()

    def report(self) -> dict[str, Any]:
        """The ``metrics.json`` dict: see :func:`metrics_report`; with ``"panoptic"`` once instances were given."""
        report = metrics_report(self.cm, self.class_names, self.area)
        if self.panoptic.num_images:
            report["panoptic"] = {**self.panoptic.compute(self.class_names), "num_images": self.panoptic.num_images}
        return report

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`report` to ``path`` (e.g. ``run_dir / "metrics.json"``) atomically; returns the path."""
        return write_metrics_json(self.report(), path)
