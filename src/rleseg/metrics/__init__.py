"""Segmentation metrics of the paper (section V-B).

:mod:`.confusion`: confusion-matrix scores; :mod:`.area`: per-image area-fraction errors; :mod:`.panoptic`:
panoptic quality of instance-aware output; :mod:`.report`: the ``metrics.json`` report and
:class:`SegmentationEvaluator`, which accumulates all three.
"""

from rleseg.metrics.area import AreaFractionError, area_fraction_errors, area_fractions
from rleseg.metrics.confusion import (
    ConfusionMatrix,
    class_agnostic,
    confusion_matrix,
    fw_iu,
    fw_precision,
    fw_recall,
    mean_dice,
    mean_precision,
    mean_recall,
    miou,
    per_class_dice,
    per_class_iou,
    per_class_precision,
    per_class_recall,
    pix_acc,
    present_classes,
    segmentation_metrics,
)
from rleseg.metrics.panoptic import PanopticQuality, PanopticStats, panoptic_scores, panoptic_stats
from rleseg.metrics.report import REPORT_KEYS, SegmentationEvaluator, metrics_report, write_metrics_json

__all__ = [
    "REPORT_KEYS",
    "AreaFractionError",
    "ConfusionMatrix",
    "PanopticQuality",
    "PanopticStats",
    "SegmentationEvaluator",
    "area_fraction_errors",
    "area_fractions",
    "class_agnostic",
    "confusion_matrix",
    "fw_iu",
    "fw_precision",
    "fw_recall",
    "mean_dice",
    "mean_precision",
    "mean_recall",
    "miou",
    "panoptic_scores",
    "panoptic_stats",
    "per_class_dice",
    "per_class_iou",
    "per_class_precision",
    "per_class_recall",
    "pix_acc",
    "present_classes",
    "metrics_report",
    "segmentation_metrics",
    "write_metrics_json",
]
