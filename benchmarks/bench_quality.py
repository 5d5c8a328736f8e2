"""Quality side by side: the token model (configs/cpu-p2s.yaml) and the Unet baseline (configs/cpu-unet.yaml)
trained under the same CPU time budget on the same data, evaluated on the same test split with
``rleseg compare``, with the token model's scores as a ratio of the Unet's.

Data: the real H&E tiles of ``../shared/data/hgsc-stroma`` (skipped when that folder is not beside the
repository) and the synthetic cells written like the demo's (256 px, 96 / 8 / 8 images). A full run trains
each model for 8 minutes per dataset (about 35 minutes in all); ``--quick`` trains 1 minute on the synthetic
cells only. Goal (the quality issue): class-agnostic Dice ratio >= 0.95, mean per-class Dice ratio >= 0.9.
Each comparison's folder (``comparison.json``, ``comparison.html``, runs and evaluations) is kept under
``benchmarks/results/quality/<dataset>/``.

One run per model does not settle a 5% goal on 6 test tiles (class-agnostic Dice of the same config spread
over 4 points between seeds). ``--seeds K`` (``python -m benchmarks.run_all --only quality --seeds K``) runs
the comparison K times with ``train.seed`` + 0 .. K-1 (``rleseg compare --seeds``, into
``benchmarks/results/quality/<dataset>/seed-<k>/``) and prints each score as mean ± sd with the ratio of the
means and the ratio per seed; K x 17 minutes per dataset.
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


def _compare(data: Path, out: Path, minutes: float, seeds: int = 1) -> dict[str, Any]:
    """``comparison.json``'s dict (one seed) or ``seeds.json``'s (``seeds`` > 1) of the two configs on ``data``."""
    from rleseg.commands.compare import compare
    from rleseg.commands.compare_seeds import compare_seeds

    configs = [REPO_ROOT / "configs" / f"{name}.yaml" for name in CONFIGS]
    options: dict[str, Any] = {
        "minutes": minutes,
        "reference": "cpu-unet",
        "overrides": ["train.progress=false"],
        "overwrite": True,
        "console": Console(quiet=True),
    }
    if seeds > 1:
        return compare_seeds(configs, data, out, seeds=seeds, **options).report
    return compare(configs, data, out, **options).report


def _single_rows(table: Table, dataset: str, result: dict[str, Any]) -> None:
    """One row per metric of one comparison: both models' values and the ratio."""
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


def _seed_rows(table: Table, dataset: str, result: dict[str, Any]) -> None:
    """One row per metric of a ``seeds.json`` dict: mean ± sd per model, the ratio of the means and per seed."""
    from rleseg.commands.compare_seeds import mean_sd_text

    models = {m["name"]: m for m in result["models"]}
    p2s, unet = models["cpu-p2s"], models["cpu-unet"]
    for label, key, kind in ROWS:
        ratio = p2s["ratio"].get(key) or {"values": [], "of_means": None}
        per_seed = ", ".join("-" if v is None else f"{v:.2f}" for v in ratio["values"])
        table.add(
            dataset,
            label,
            mean_sd_text(p2s["values"].get(key), kind, empty="-", thousands=""),
            mean_sd_text(unet["values"].get(key), kind, empty="-", thousands=""),
            "-" if ratio["of_means"] is None else f"{ratio['of_means']:.2f}",
            per_seed or "-",
        )


def run(quick: bool = False, seeds: int = 1) -> BenchResult:
    """Train and evaluate both configs on each dataset (``seeds`` times, with seeds 0 .. seeds-1); one table row
    per metric with the p2s / unet ratio (with ``seeds`` > 1: mean ± sd, ratio of the means, ratio per seed)."""
    if seeds < 1:
        raise ValueError(f"seeds must be 1 or more, got {seeds}")
    minutes = 1.0 if quick else 8.0
    columns = ["dataset", "metric", "cpu-p2s", "cpu-unet", "p2s / unet"]
    title = f"Token model vs Unet, {minutes:g} CPU minutes each, test split (scores in %)"
    if seeds > 1:
        columns.append("per seed")
        title += f", {seeds} seeds (mean ± sd; ratio of the means)"
    table = Table(title, columns)
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, data in _datasets(quick, Path(tmp)):
            result = _compare(data, RESULTS_DIR / NAME / dataset, minutes, seeds)
            (_seed_rows if seeds > 1 else _single_rows)(table, dataset, result)
            key = "seeds" if seeds > 1 else "comparison"
            records.append({"dataset": dataset, "data": str(data), "minutes": minutes, key: result})
    return BenchResult(
        NAME,
        [table],
        records,
        params={"quick": quick, "minutes": minutes, "seeds": seeds},
        notes=[
            "Goal: class-agnostic Dice ratio >= 0.95 and mean Dice ratio >= 0.9 on hgsc-stroma (8 minutes each).",
            "Both models train in this process one after the other: run nothing else meanwhile (2 shared cores).",
        ],
    )
