"""Pix2Seq-D sampling: time per window and quality against the number of DDIM steps (5, 10, 20).

The encoder runs once per window and the mask decoder once per step, so the time grows with the steps; the
quality (class-agnostic and mean Dice, PQ on the test images of the model's own data) shows what the extra steps buy.
Quality needs a trained checkpoint: set ``RLESEG_P2SD_CKPT`` to one (e.g. from
``rleseg train configs/cpu-p2sd.yaml``); without it an untrained model of ``configs/cpu-p2sd.yaml`` is timed
and the quality columns stay empty.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import REPO_ROOT, BenchResult, Table, time_interleaved
from rleseg.config import load_config
from rleseg.inference.predictor import Predictor
from rleseg.metrics.report import SegmentationEvaluator
from rleseg.segmenters.loading import load_segmenter
from rleseg.segmenters.pix2seq_d import Pix2SeqDSegmenter
from rleseg.training.build import build_sources

NAME = "p2sd_sampling"
STEPS = (5, 10, 20)
CKPT_ENV = "RLESEG_P2SD_CKPT"


def _model() -> tuple[Pix2SeqDSegmenter, bool]:
    """The checkpoint named by ``RLESEG_P2SD_CKPT`` (trained: True), else an untrained cpu-p2sd model."""
    path = os.environ.get(CKPT_ENV)
    if path:
        model = load_segmenter(Path(path))
        if not isinstance(model, Pix2SeqDSegmenter):
            raise ValueError(f"{CKPT_ENV}={path} is a {model.family} checkpoint, expected pix2seq-d")
        return model.eval(), True
    cfg = load_config(REPO_ROOT / "configs" / "cpu-p2sd.yaml")
    return Pix2SeqDSegmenter.create(cfg, ["background", "ipsc", "dfc"]).eval(), False


def _quality(model: Pix2SeqDSegmenter, images: int) -> dict[str, Any]:
    """Class-agnostic and mean Dice and PQ of ``model`` on the first ``images`` test images of its own data
    (``data.source`` of its config: the synthetic cells or a dataset folder)."""
    source = build_sources(model.cfg).get("test")
    if source is None:
        raise ValueError(f"{model.cfg.data.source} has no test split to score {CKPT_ENV} on")
    evaluator = SegmentationEvaluator(model.class_names[1:])
    predictor = Predictor(model)
    for sample in (source[i] for i in range(min(images, len(source)))):
        pred = predictor.predict_image(sample.image)
        evaluator.update(sample.mask, pred.mask, sample.instances, pred.instances)
    report = evaluator.report()
    return {
        "dice_agnostic": report["class_agnostic"]["dice"],
        "dice_mean": report["mean"]["dice"],
        "pq": report.get("panoptic", {}).get("pq"),
    }


def run(quick: bool = False) -> BenchResult:
    """Time ``predict_windows`` of a batch of windows at each step count (side by side), then score."""
    model, trained = _model()
    p = model.cfg.data.patch_size or 64
    batch = 8
    images = torch.randint(0, 256, (batch, 3, p, p), dtype=torch.uint8)
    m = model.m
    original = m.steps

    def predict_with(steps: int) -> Any:
        def call() -> Any:
            m.steps = steps
            return model.predict_windows(images)

        return call

    timings = time_interleaved(
        {str(s): predict_with(s) for s in STEPS}, repeat=2 if quick else 5, target_s=0.5 if quick else 2.0
    )
    which = f"trained: {os.environ[CKPT_ENV]}" if trained else "untrained"
    table = Table(
        f"Pix2Seq-D sampling, {batch} windows of {p} px ({which})",
        ["DDIM steps", "ms per window", "dice agnostic", "dice mean", "PQ"],
    )
    records = []
    for s in STEPS:
        per_window = timings[str(s)].min_s / batch
        quality: dict[str, Any] = {}
        if trained:
            m.steps = s
            quality = _quality(model, 2 if quick else 12)
        table.add(
            s,
            per_window * 1e3,
            *(
                float("nan") if quality.get(k) is None else float(quality[k])
                for k in ("dice_agnostic", "dice_mean", "pq")
            ),
        )
        records.append({"steps": s, "seconds_per_window": per_window, "timing": timings[str(s)].to_dict(), **quality})
    m.steps = original
    notes = [] if trained else [f"quality needs a trained checkpoint: set {CKPT_ENV}=path/to/best.ckpt"]
    return BenchResult(NAME, [table], records, {"batch": batch, "patch": p, "trained": trained}, notes)
