"""Quality side by side: the token model (configs/cpu-p2s.yaml) and the Unet baseline (configs/cpu-unet.yaml)
trained under the same CPU time budget on the same data, evaluated on the same test split with
``rleseg compare``, with the token model's scores as a ratio of the Unet's.

Data: the real H&E tiles of ``../shared/data/hgsc-stroma`` (skipped when that folder is not beside the
repository) and the synthetic cells written like the demo's (256 px, 96 / 8 / 8 images). A full run trains
each model for 8 minutes per dataset (about 35 minutes in all); ``--quick`` trains 1 minute on the synthetic
cells only. Goal (the quality issue): class-agnostic Dice ratio >= 0.95, mean per-class Dice ratio >= 0.9.
Each comparison's folder (``comparison.json``, ``comparison.html``, runs and evaluations) is kept under
``benchmarks/results/quality/<dataset>/``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks.common import REPO_ROOT, RESULTS_DIR, BenchResult, Table

NAME = "quality"
CONFIGS = ("cpu-p2s", "cpu-unet")  # token model first; the Unet is the reference
HGSC = REPO_ROOT.parent / "shared" / "data" / "hgsc-stroma"
ROWS = [  # (label, key in comparison.json's flat values, kind: score (ratio) or cost)
    ("class-agnostic Dice", "class_agnostic.dice", "score"),
    ("mean Dice", "mean.dice", "score"),
    ("mIoU", "miou", "score"),
    ("training steps", "steps", "cost"),
    ("train s", "train_seconds", "cost"),
    ("predict s", "predict_seconds", "cost"),
    ("parameters", "parameters", "cost"),
]


def _datasets(quick: bool, tmp: Path) -> list[tuple[str, Path]]:
    from rleseg.data.synthetic import write_synthetic

    cells = write_synthetic(
        "cells", tmp / "cells", num_samples={"train": 96, "val": 8, "test": 8}, size=256, progress=False
    )
    if quick or not HGSC.is_dir():
        return [("synthetic-cells", cells)]
    return [("hgsc-stroma", HGSC), ("synthetic-cells", cells)]


def _compare(data: Path, out: Path, minutes: float) -> dict[str, Any]:
    from rleseg.commands.compare import compare

    configs = [REPO_ROOT / "configs" / f"{name}.yaml" for name in CONFIGS]
    done = compare(
        configs,
        data,
        out,
        minutes=minutes,
        reference="cpu-unet",
        overrides=["train.progress=false"],
        overwrite=True,
        console=Console(quiet=True),
    )
    return done.report


def run(quick: bool = False) -> BenchResult:
    """Train and evaluate both configs on each dataset; one table row per metric with the p2s / unet ratio."""
    minutes = 1.0 if quick else 8.0
    table = Table(
        f"Token model vs Unet, {minutes:g} CPU minutes each, test split (scores in %)",
        ["dataset", "metric", "cpu-p2s", "cpu-unet", "p2s / unet"],
    )
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, data in _datasets(quick, Path(tmp)):
            result = _compare(data, RESULTS_DIR / NAME / dataset, minutes)
            values = {m["name"]: m["values"] for m in result["models"]}
            p2s, unet = values["cpu-p2s"], values["cpu-unet"]
            for label, key, kind in ROWS:
                a, b = p2s.get(key), unet.get(key)
                ratio = a / b if a is not None and b else None
                scale = 100.0 if kind == "score" else 1.0
                table.add(
                    dataset,
                    label,
                    "-" if a is None else round(a * scale, 2),
                    "-" if b is None else round(b * scale, 2),
                    "-" if ratio is None else f"{ratio:.2f}",
                )
            records.append({"dataset": dataset, "data": str(data), "minutes": minutes, "comparison": result})
    return BenchResult(
        NAME,
        [table],
        records,
        params={"quick": quick, "minutes": minutes},
        notes=[
            "Goal: class-agnostic Dice ratio >= 0.95 and mean Dice ratio >= 0.9 on hgsc-stroma (8 minutes each).",
            "Both models train in this process one after the other: run nothing else meanwhile (2 shared cores).",
        ],
    )
