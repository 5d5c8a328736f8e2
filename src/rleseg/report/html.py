"""A self-contained HTML evaluation report: one file, images embedded as base64 PNG, inline CSS, no scripts.

Sections: what was evaluated, headline numbers, the metrics table (``id="metrics-table"``), per-class bar
charts, the confusion matrix, sequence-length statistics (when a checkpoint generated the masks), training
curves (when given), the gallery of image | ground truth | prediction strips, worst first
(``id="gallery"``), and every problem met. All text is HTML-escaped. Build a :class:`ReportInput`, then
:func:`render_report` (a string) or :func:`write_report` (an atomic file write).
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from rleseg.atomic import atomic_path
from rleseg.report import charts
from rleseg.report.gallery import GalleryItem
from rleseg.report.overlay import palette
from rleseg.report.seqlen import LengthSummary, summarize_lengths
from rleseg.report.style import html_page


@dataclass
class LengthData:
    """Token sequence lengths ``(num_windows,)``: ``generated`` by the model (EOS included) and ``target``
    (the ground truth encoded at S, uncut), and the budget L."""

    generated: np.ndarray
    target: np.ndarray
    budget: int | None

    def summaries(self) -> dict[str, LengthSummary]:
        """``{"generated": ..., "ground_truth": ...}`` (see :func:`summarize_lengths`)."""
        return {
            "generated": summarize_lengths(self.generated, self.budget),
            "ground_truth": summarize_lengths(self.target, self.budget, over_only=True),
        }


@dataclass
class ReportInput:
    """Everything the report shows.

    ``metrics``: the ``metrics.json`` dict (:mod:`rleseg.metrics.report`); ``confusion``: its ``(C + 1, C + 1)``
    confusion matrix (rows ground truth, background first); ``class_names``: ``C + 1`` names, background
    first; ``gallery``: worst first; ``gallery_total``: images scored (the gallery may hold fewer);
    ``facts``: (label, value) lines about the run; ``curves_png``: training curves, or None.
    """

    title: str
    metrics: dict[str, Any]
    confusion: np.ndarray
    class_names: Sequence[str]
    gallery: list[GalleryItem]
    gallery_total: int
    facts: list[tuple[str, str]] = field(default_factory=list)
    lengths: LengthData | None = None
    curves_png: bytes | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def esc(text: object) -> str:
    """HTML-escaped ``str(text)``, quotes included (safe in text and in attribute values)."""
    return html.escape(str(text), quote=True)


def png_data_uri(data: bytes | np.ndarray) -> str:
    """``data:image/png;base64,...`` of PNG bytes or of a ``(H, W, 3)`` / ``(H, W)`` uint8 array."""
    if isinstance(data, np.ndarray):
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(data)).save(buf, format="PNG", optimize=True)
        data = buf.getvalue()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def pct(value: Any, digits: int = 2) -> str:
    """A fraction as a percentage, ``"–"`` when undefined."""
    return "–" if value is None else f"{100 * float(value):.{digits}f}"


def _img(data: bytes | np.ndarray, alt: str, cls: str = "chart") -> str:
    return f'<img class="{cls}" alt="{esc(alt)}" src="{png_data_uri(data)}">'


def _swatch(label: int, num_classes: int) -> str:
    r, g, b = (int(v) for v in palette(num_classes)[label])
    return f'<span class="swatch" style="background: rgb({r}, {g}, {b})"></span>'


def _header(r: ReportInput) -> str:
    m = r.metrics
    n = m.get("num_images")
    sub = f"{n} image{'s' if n != 1 else ''} scored" if n is not None else ""
    facts = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in r.facts)
    cards = [
        ("mIoU", m.get("miou")),
        ("mean dice", m.get("mean", {}).get("dice")),
        ("class-agnostic dice", m.get("class_agnostic", {}).get("dice")),
        ("pixel accuracy", m.get("pix_acc")),
        ("fw IoU", m.get("fw_iu")),
    ]
    if "panoptic" in m:
        cards.append(("PQ", m["panoptic"].get("pq")))
    card_html = "".join(
        f'<div class="card"><div class="value">{pct(v, 1)}{"" if v is None else "%"}</div>'
        f'<div class="label">{esc(k)}</div></div>'
        for k, v in cards
    )
    return (
        f"<header><h1>{esc(r.title)}</h1><p class='sub'>{esc(sub)}</p>"
        f'<dl class="facts">{facts}</dl></header><div class="cards" data-testid="headline">{card_html}</div>'
    )


def metrics_table(metrics: dict[str, Any]) -> str:
    """The ``metrics.json`` dict as an HTML table: a row per class, then mean, frequency-weighted and
    class-agnostic rows; recall, precision (per-class IoU), dice, PQ / SQ / RQ (with instances) and the
    mean area-fraction error, in %."""
    names = list(metrics.get("classes", []))
    panoptic = metrics.get("panoptic")
    area = metrics.get("area_fraction_error") or {}
    cols = ["recall", "precision (IoU)", "dice"] + (["PQ", "SQ", "RQ"] if panoptic else []) + ["area error"]
    head = "".join(f"<th>{esc(c)}</th>" for c in ["class", *cols])
    rows: list[str] = []

    def row(label: str, cells: list[Any], cls: str, key: str, swatch: str = "") -> None:
        tds = "".join(f"<td>{pct(v)}</td>" for v in cells)
        rows.append(f'<tr class="{cls}" data-row="{esc(key)}"><td>{swatch}{esc(label)}</td>{tds}</tr>')

    def pq(section: dict[str, Any] | None) -> list[Any]:
        if not panoptic:
            return []
        return [None, None, None] if section is None else [section.get(k) for k in ("pq", "sq", "rq")]

    for k, name in enumerate(names, start=1):
        s = metrics.get("per_class", {}).get(name, {})
        cells = [s.get("recall"), s.get("precision"), s.get("dice")]
        cells += pq((panoptic or {}).get("per_class", {}).get(name, {}))
        row(name, [*cells, (area.get(name) or {}).get("mean")], "class", name, _swatch(k, len(names)))
    mean = metrics.get("mean", {})
    row("mean", [mean.get("recall"), mean.get("precision"), mean.get("dice"), *pq(panoptic), None], "summary", "mean")
    fw = metrics.get("frequency_weighted", {})
    row("frequency-weighted", [fw.get("recall"), fw.get("precision"), None, *pq(None), None], "summary", "fw")
    ag = metrics.get("class_agnostic", {})
    row(
        "class-agnostic",
        [ag.get("recall"), ag.get("precision"), ag.get("dice"), *pq(None), (area.get("all") or {}).get("mean")],
        "summary",
        "agnostic",
    )
    return (
        f'<table id="metrics-table" data-testid="metrics-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        f'<p class="note">All in %. Over all labels, background included: '
        f"pixel accuracy {pct(metrics.get('pix_acc'))}, "
        f"mIoU {pct(metrics.get('miou'))}, fw IoU {pct(metrics.get('fw_iu'))}. Precision is the per-class IoU "
        f"n<sub>ii</sub> / (t<sub>i</sub> + &sum;<sub>j</sub> n<sub>ji</sub> &minus; n<sub>ii</sub>), as in the "
        "paper (eq. 2); area error: mean per-image |predicted &minus; true| area fraction; &ldquo;–&rdquo;: "
        "undefined (class absent from both sides).</p>"
    )


def _charts(r: ReportInput) -> str:
    m = r.metrics
    names = list(m.get("classes", []))
    rows = {n: m.get("per_class", {}).get(n, {}) for n in names}
    rows["mean"] = m.get("mean", {})
    rows["class-agnostic"] = m.get("class_agnostic", {})
    series = [("recall", "recall"), ("precision", "precision (IoU)"), ("dice", "dice")]
    out = [
        _img(charts.grouped_bars(rows, series, "Recall, precision, dice (%)"), "per-class recall, precision and dice")
    ]
    if "panoptic" in m:
        p = m["panoptic"]
        prow = {n: p.get("per_class", {}).get(n, {}) for n in names}
        prow["mean"] = {k: p.get(k) for k in ("pq", "sq", "rq")}
        out.append(
            _img(charts.grouped_bars(prow, [("pq", "PQ"), ("sq", "SQ"), ("rq", "RQ")], "Panoptic quality (%)"), "PQ")
        )
    return "".join(out)


def length_table(lengths: LengthData) -> str:
    """Mean, median, 95th percentile and max tokens per window, the budget L and the share of windows at L."""
    head = "".join(f"<th>{esc(c)}</th>" for c in ("sequence", "windows", "mean", "median", "p95", "max", "L", "at L"))
    labels = {"generated": "generated", "ground_truth": "ground truth at S"}
    body = []
    for key, s in lengths.summaries().items():
        cells = [s.windows, *(("–" if v is None else f"{v:.1f}") for v in (s.mean, s.median, s.p95))]
        cells += ["–" if s.max is None else s.max, "–" if s.budget is None else s.budget, pct(s.at_budget, 1)]
        tds = "".join(f"<td>{esc(c)}</td>" for c in cells)
        body.append(f'<tr data-row="{key}"><td>{esc(labels[key])}</td>{tds}</tr>')
    return (
        f'<table id="length-table" class="compact" data-testid="length-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        '<p class="note">Tokens per window, EOS included; ground truth: the windows\' masks encoded by the '
        "checkpoint's tokenizer at its mask size S, before the budget cuts them. At L (%): generated sequences "
        "that reached the budget L (no EOS before it: the mask may be incomplete), and ground-truth windows "
        "longer than L, which the tokenizer cuts at a run boundary in training.</p>"
    )


def _lengths(lengths: LengthData) -> str:
    hist = ""
    if lengths.generated.size or lengths.target.size:
        hist = _img(charts.length_histogram(lengths.generated, lengths.target, lengths.budget), "sequence lengths")
    return (
        '<section id="lengths" data-testid="sequence-lengths"><h2>Sequence lengths</h2>'
        f"{length_table(lengths)}{hist}</section>"
    )


def _gallery(r: ReportInput) -> str:
    names = list(r.class_names)
    c = len(names) - 1
    legend = "".join(f"<span>{_swatch(k, c)}{esc(n)}</span>" for k, n in enumerate(names) if k > 0)
    shown = len(r.gallery)
    what = f"the {shown} worst of {r.gallery_total} images" if shown < r.gallery_total else f"all {shown} images"
    cards = []
    for rank, item in enumerate(r.gallery, start=1):
        s = item.score
        panels = ("image", "ground truth", "prediction") if item.has_image else ("ground truth", "prediction")
        captions = "".join(f"<span>{esc(p)}</span>" for p in panels)
        low = " low" if s.dice < 0.5 else ""
        cards.append(
            f'<figure class="case" data-name="{esc(item.name)}" data-dice="{s.dice:.6f}" '
            f'data-error="{s.pixel_error:.6f}">'
            f"{_img(item.strip, f'{item.name}: ' + ' | '.join(panels), 'strip')}"
            f'<div class="panels">{captions}</div>'
            f'<figcaption><span class="name"><span class="rank">#{rank}</span>{esc(item.name)}</span>'
            f'<span><span class="badge{low}">dice {pct(s.dice, 1)}%</span>'
            f'<span class="badge">pixel error {pct(s.pixel_error, 1)}%</span></span></figcaption></figure>'
        )
    body = "".join(cards) if cards else "<p>No image was scored.</p>"
    return (
        f'<section id="gallery-section"><h2>Gallery: worst first</h2>'
        f'<p class="note">Showing {esc(what)}, sorted by per-image dice (mean over the classes present on '
        f"either side; an image with no foreground on either side scores 100%).</p>"
        f'<div class="legend">{legend}</div>'
        f'<div id="gallery" class="gallery" data-testid="gallery">{body}</div></section>'
    )


def _problems(r: ReportInput) -> str:
    parts = []
    if r.notes:
        parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in r.notes) + "</ul>")
    if r.problems:
        items = "".join(f"<li>{esc(p)}</li>" for p in r.problems)
        parts.append(f'<p>{len(r.problems)} input(s) left out:</p><ul class="problems">{items}</ul>')
    if not parts:
        return ""
    return f'<section id="problems" data-testid="problems"><h2>Notes and problems</h2>{"".join(parts)}</section>'


def render_report(r: ReportInput) -> str:
    """The report as one HTML document (a string)."""
    m = r.metrics
    k = len(m.get("classes", []))
    if len(r.class_names) != k + 1 or np.shape(r.confusion) != (k + 1, k + 1):
        raise ValueError(
            f"report of {k} classes needs {k + 1} class names (background first) and a {(k + 1, k + 1)} "
            f"confusion matrix; got {len(r.class_names)} names and {np.shape(r.confusion)}"
        )
    confusion = _img(charts.confusion_heatmap(r.confusion, list(r.class_names)), "confusion matrix")
    second = (
        f'<section id="confusion"><h2>Confusion matrix</h2>{confusion}<p class="note">Rows: ground truth, '
        "columns: prediction; each row sums to 100%, with its pixel counts.</p></section>"
    )
    second += _lengths(r.lengths) if r.lengths is not None else ""
    curves = ""
    if r.curves_png is not None:
        curves = f'<section id="curves"><h2>Training curves</h2>{_img(r.curves_png, "training curves")}</section>'
    body = (
        f"{_header(r)}"
        f'<div class="row"><section id="metrics"><h2>Metrics</h2>{metrics_table(m)}</section>'
        f'<section id="per-class"><h2>Per class</h2>{_charts(r)}</section></div>'
        f"{_gallery(r)}"
        f'<div class="row">{second}</div>{curves}{_problems(r)}'
    )
    footer = "Written by rleseg on {stamp}. metrics.json beside this file holds the exact values."
    return html_page(r.title, body, footer)


def write_report(r: ReportInput, path: str | os.PathLike[str]) -> Path:
    """Render ``r`` and write it to ``path`` atomically (a temporary file in the same folder, then
    ``os.replace``); returns the path."""
    text = render_report(r)
    dest = Path(path)
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return dest
