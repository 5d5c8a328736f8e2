"""Mask2Former's pixel decoder with its deformable-attention encoder against PRO-SCALE: FLOPs and measured time.

FLOPs are not latency: the table puts the pixel decoder's GFLOPs (``rleseg flops``' counter, batch 1) beside its
measured time per image on this machine, for the CPU configs (``cpu-mask2former`` against ``cpu-proscale``) on a
128-pixel window and, in the full run, for the paper configs (ResNet-50, 6 layers against PRO-SCALE (1, 1, 1),
(2, 2, 2) and (3, 3, 3)) at 800 x 1344. The pixel decoder is timed on fixed backbone features (the backbone is
the same for all), side by side so that machine noise hits all alike. Models are untrained (random weights):
the cost does not depend on the weights.
"""

from __future__ import annotations

from typing import Any

import torch

from benchmarks.common import REPO_ROOT, BenchResult, Table, time_interleaved
from rleseg.commands.flops import count_flops
from rleseg.config import load_config
from rleseg.segmenters.mask2former import Mask2FormerSegmenter

NAME = "m2f_encoder"
CPU = [
    ("cpu-mask2former", "cpu-mask2former.yaml", []),
    ("cpu-proscale", "cpu-proscale.yaml", []),
    ("cpu-proscale, lpe: true", "cpu-proscale.yaml", ["model.mask2former.lpe=true"]),
]
PAPER = [
    ("m2f-r50 (6 layers)", "paper-mask2former-r50.yaml", []),
    ("pro-scale (1,1,1)", "paper-proscale-r50.yaml", ["model.mask2former.stages=[1,1,1]"]),
    ("pro-scale (2,2,2)", "paper-proscale-r50.yaml", ["model.mask2former.stages=[2,2,2]"]),
    ("pro-scale (3,3,3)", "paper-proscale-r50.yaml", []),
]


def _measure(models: list[tuple[str, str, list[str]]], size: tuple[int, int], quick: bool) -> list[dict[str, Any]]:
    """GFLOPs per component and the pixel decoder's seconds per image of each ``(label, config, overrides)``."""
    built = {}
    records = []
    images = torch.zeros(1, 3, *size, dtype=torch.uint8)
    for label, config, overrides in models:
        cfg = load_config(REPO_ROOT / "configs" / config, overrides)
        model = Mask2FormerSegmenter.create(cfg, ["background", "thing"]).eval()
        flops = count_flops(model, images, model.flop_components())
        level = model.model.model.pixel_level_module
        with torch.no_grad():
            features = level.encoder(model.pixels(images)).feature_maps
        built[label] = (level.decoder, features)
        records.append(
            {
                "model": label,
                "config": config,
                "overrides": overrides,
                "size": list(size),
                **{f"gflops_{k.replace(' ', '_')}": v / 1e9 for k, v in flops.items()},
            }
        )

    def decode(label: str) -> Any:
        decoder, features = built[label]

        def call() -> Any:
            with torch.no_grad():
                return decoder(features)

        return call

    timings = time_interleaved({label: decode(label) for label in built}, repeat=2 if quick else 5, target_s=0.2)
    for record in records:
        record["pixel_decoder_ms"] = timings[record["model"]].min_s * 1e3
        record["timing"] = timings[record["model"]].to_dict()
    return records


def _table(title: str, records: list[dict[str, Any]]) -> Table:
    columns = ["model", "pixel decoder GFLOPs", "share of first", "total GFLOPs", "pixel decoder ms", "time of first"]
    table = Table(title, columns)
    base, base_ms = records[0]["gflops_pixel_decoder"], records[0]["pixel_decoder_ms"]
    for r in records:
        table.add(
            r["model"],
            r["gflops_pixel_decoder"],
            r["gflops_pixel_decoder"] / base,
            r["gflops_total"],
            r["pixel_decoder_ms"],
            r["pixel_decoder_ms"] / base_ms,
        )
    return table


def run(quick: bool = False) -> BenchResult:
    """The CPU configs on a 128-pixel window; in the full run also the paper configs at 800 x 1344."""
    records = _measure(CPU, (128, 128), quick)
    tables = [_table("Pixel decoder, CPU configs, 128 x 128, batch 1", records)]
    if not quick:
        paper = _measure(PAPER, (800, 1344), quick)
        tables.append(_table("Pixel decoder, paper configs (ResNet-50), 800 x 1344, batch 1", paper))
        records += paper
    notes = ["GFLOPs: 2 per multiply-accumulate (fvcore-style GFLOPs of papers are half); times: best of rounds"]
    return BenchResult(NAME, tables, records, {"quick": quick}, notes)
