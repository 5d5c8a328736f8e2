"""What both forms of ``rleseg evaluate`` write at the end: ``metrics.json`` and the HTML ``report.html``.

``metrics.json`` is the evaluator's report (:mod:`rleseg.metrics.report`) plus, when a checkpoint generated
the masks, ``"sequence_lengths"`` (``{"budget": L, "generated": {...}, "ground_truth": {...}}``, see
:class:`rleseg.report.seqlen.LengthSummary`) and ``"source"`` (what was evaluated).
"""

from __future__ import annotations

import importlib
import importlib.util
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rleseg.metrics import SegmentationEvaluator
from rleseg.metrics.report import write_metrics_json
from rleseg.report.gallery import Gallery
from rleseg.report.html import LengthData, ReportInput, write_report

CURVES_MODULE = "rleseg.report.curves"


@dataclass
class Written:
    """The ``metrics.json`` dict and the paths of ``metrics.json`` and ``report.html``."""

    report: dict[str, Any]
    metrics_path: Path
    report_path: Path


def write_outputs(
    out: Path,
    evaluator: SegmentationEvaluator,
    gallery: Gallery,
    *,
    title: str,
    facts: list[tuple[str, str]],
    lengths: LengthData | None = None,
    curves_png: bytes | None = None,
    problems: list[str] | None = None,
    notes: list[str] | None = None,
    source: dict[str, Any] | None = None,
) -> Written:
    """Write ``out/metrics.json`` and ``out/report.html`` (both atomically) from an evaluation."""
    report = evaluator.report()
    if lengths is not None:
        report["sequence_lengths"] = {
            "budget": lengths.budget,
            **{k: s.to_dict() for k, s in lengths.summaries().items()},
        }
    if source is not None:
        report["source"] = source
    metrics_path = write_metrics_json(report, out / "metrics.json")
    page = ReportInput(
        title=title,
        metrics=report,
        confusion=evaluator.cm.matrix,
        class_names=["background", *evaluator.class_names],
        gallery=gallery.items(),
        gallery_total=gallery.seen,
        facts=facts,
        lengths=lengths,
        curves_png=curves_png,
        problems=list(problems or []),
        notes=list(notes or []),
    )
    report_path = write_report(page, out / "report.html")
    return Written(report, metrics_path, report_path)


def training_curves(checkpoint: Path) -> tuple[bytes | None, str | None]:
    """Training curves of the run a checkpoint belongs to (``<run>/checkpoints/<name>.ckpt`` with
    ``<run>/logs/metrics.csv``) as PNG bytes, drawn by ``rleseg.report.curves.plot_training_curves`` when that
    module is installed; ``(None, None)`` when there is nothing to draw, ``(None, note)`` when drawing failed."""
    csv = checkpoint.parent.parent / "logs" / "metrics.csv"
    if checkpoint.parent.name != "checkpoints" or not csv.is_file():
        return None, None
    if importlib.util.find_spec(CURVES_MODULE) is None:
        return None, None
    plot = getattr(importlib.import_module(CURVES_MODULE), "plot_training_curves", None)
    if plot is None:
        return None, None
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "curves.png"
        try:
            plot(csv, png)
            return png.read_bytes(), None
        except (ValueError, OSError) as err:
            return None, f"training curves of {csv} not drawn: {err}"


def lengths_table(lengths: LengthData) -> Table:
    """The sequence-length statistics as a terminal table (the report's table)."""
    table = Table(title=f"Tokens per window (EOS included), budget L = {lengths.budget}", title_justify="left")
    for col in ("sequence", "windows", "mean", "median", "p95", "max", "at L"):
        table.add_column(col, justify="left" if col == "sequence" else "right")
    labels = {"generated": "generated", "ground_truth": "ground truth at S (uncut)"}
    for key, s in lengths.summaries().items():
        nums = ["-" if v is None else f"{v:.1f}" for v in (s.mean, s.median, s.p95)]
        hit = "-" if s.at_budget is None else f"{100 * s.at_budget:.1f}%"
        table.add_row(labels[key], str(s.windows), *nums, "-" if s.max is None else str(s.max), hit)
    return table


def print_written(written: Written, console: Console) -> None:
    """One line naming the files written."""
    console.print(
        f"wrote [bold]{escape(str(written.metrics_path))}[/bold] and the report "
        f"[bold]{escape(str(written.report_path))}[/bold]",
        soft_wrap=True,
    )
