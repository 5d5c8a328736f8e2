"""Streaming Pix2Seq-D on the synthetic cell videos against an image model run frame by frame: Dice per
frame index, panoptic quality over each video, and track consistency (the share of ground-truth cells whose
predicted id stays the same from one frame to the next; :func:`rleseg.metrics.tracks.track_consistency`).

Needs trained checkpoints: ``RLESEG_P2SD_VIDEO_CKPT`` (e.g. from ``rleseg train configs/cpu-p2sd-video.yaml``)
and, for the comparison, ``RLESEG_P2SD_CKPT`` (an image model, e.g. ``configs/cpu-p2sd.yaml`` trained with
``data.source=synthetic-cells-video``). The test videos are the test split of the streaming model's data
(``data.source`` of its config: the synthetic videos or a folder of them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import BenchResult, Table
from rleseg.data.sample import Sample
from rleseg.inference.predictor import Predictor
from rleseg.metrics.report import SegmentationEvaluator
from rleseg.metrics.tracks import track_consistency
from rleseg.segmenters.base import Segmenter
from rleseg.segmenters.loading import load_segmenter
from rleseg.training.build import build_sources

NAME = "p2sd_video"
ENVS = (("streaming", "RLESEG_P2SD_VIDEO_CKPT"), ("frame by frame", "RLESEG_P2SD_CKPT"))


def _dice(gt: np.ndarray, pred: np.ndarray) -> float:
    """Class-agnostic Dice of two label arrays (NaN when both are empty)."""
    g, p = gt > 0, pred > 0
    total = int(g.sum() + p.sum())
    return float("nan") if total == 0 else 2 * int((g & p).sum()) / total


def _padded(rows: list[list[float]]) -> np.ndarray:
    """Rows of different lengths -> ``(len(rows), longest)`` float array, NaN past each row's end."""
    out = np.full((len(rows), max(map(len, rows), default=0)), np.nan)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def _score(model: Segmenter, videos: list[Sample]) -> dict[str, Any]:
    """Per-frame-index class-agnostic Dice, mean Dice and PQ over the videos, and track consistency."""
    predictor = Predictor(model)
    evaluator = SegmentationEvaluator(model.class_names[1:])
    per_frame: list[list[float]] = []
    kept = pairs = 0
    for sample in videos:
        pred = predictor.predict_video(sample.image)
        evaluator.update(sample.mask, pred.mask, sample.instances, pred.instances)
        per_frame.append([_dice(sample.mask[t], pred.mask[t]) for t in range(sample.mask.shape[0])])
        if pred.instances is not None and sample.instances is not None:
            k, n = track_consistency(sample.instances, pred.instances)
            kept, pairs = kept + k, pairs + n
    report = evaluator.report()
    return {
        "dice_per_frame": np.nanmean(_padded(per_frame), axis=0).tolist(),
        "dice_agnostic": report["class_agnostic"]["dice"],
        "dice_mean": report["mean"]["dice"],
        "pq": report.get("panoptic", {}).get("pq"),
        "track_consistency": kept / pairs if pairs else None,
        "track_pairs": pairs,
    }


def run(quick: bool = False) -> BenchResult:
    """Score each checkpoint that is set on the test videos of the streaming model's config."""
    models = {label: load_segmenter(Path(os.environ[env])).eval() for label, env in ENVS if os.environ.get(env)}
    if "streaming" not in models:
        note = "needs RLESEG_P2SD_VIDEO_CKPT (and RLESEG_P2SD_CKPT for the frame-by-frame comparison)"
        return BenchResult(NAME, [], [], {}, [note])
    cfg = models["streaming"].cfg
    test = build_sources(cfg).get("test")
    if test is None:
        raise ValueError(f"{cfg.data.source} has no test split")
    count = 1 if quick else len(test)
    videos = [test[i] for i in range(count)]
    frames = max(v.image.shape[0] for v in videos)
    table = Table(
        f"Pix2Seq-D on {count} test videos of up to {frames} frames ({cfg.data.source})",
        ["model", "dice agnostic", "dice mean", "PQ", "track consistency", *[f"dice t={t}" for t in range(frames)]],
    )
    records = []
    for label, model in models.items():
        s = _score(model, videos)
        num = [float("nan") if s[k] is None else float(s[k]) for k in ("dice_agnostic", "dice_mean", "pq")]
        track = float("nan") if s["track_consistency"] is None else float(s["track_consistency"])
        table.add(label, *num, track, *s["dice_per_frame"])
        records.append({"model": label, "checkpoint": os.environ[dict(ENVS)[label]], **s})
    return BenchResult(NAME, [table], records, {"videos": count, "frames": frames})
