"""How ``rleseg compare`` shows a comparison: its numbers, the terminal tables and the HTML page.

:func:`flat_metrics` and :func:`relative` make the numbers of ``comparison.json`` (flat keys such as
``class_agnostic.dice`` or ``per_class.<class>.recall``); :class:`SideBySide` scores every image against each
model's prediction and keeps the worst as :class:`GalleryRow` s; :func:`print_comparison` prints the tables.

The page is one self-contained file (inline CSS, images as PNG data URIs, no scripts): what was compared,
the summary table (``id="summary-table"``: a row per model; class-agnostic and mean scores, mIoU, PQ where a
model is instance-aware, training steps, train and predict seconds, parameters), the per-class table in the
layout of the paper's Table 2 (``id="class-table"``: recall, precision and Dice per class, class-agnostic and
frequency-weighted), each cell with its change relative to the reference model, ``(model - reference) /
reference``; then the side-by-side grid (``id="grid"``): image | ground truth | each model, worst first;
then notes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rleseg.atomic import atomic_path
from rleseg.report.gallery import image_score, thumbnail
from rleseg.report.html import esc, pct, png_data_uri
from rleseg.report.overlay import overlay, palette
from rleseg.report.style import html_page

# (key in a model's "values", column label, kind): kinds "score" (a fraction, shown in %), "count", "seconds"
SUMMARY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("class_agnostic.dice", "agnostic Dice", "score"),
    ("class_agnostic.recall", "agnostic recall", "score"),
    ("class_agnostic.precision", "agnostic precision", "score"),
    ("mean.dice", "mean Dice", "score"),
    ("miou", "mIoU", "score"),
    ("panoptic.pq", "PQ", "score"),
    ("steps", "steps", "count"),
    ("train_seconds", "train s", "seconds"),
    ("predict_seconds", "predict s", "seconds"),
    ("parameters", "params", "count"),
)
CLASS_METRICS: tuple[tuple[str, str], ...] = (("recall", "Recall"), ("precision", "Precision (IoU)"), ("dice", "Dice"))
PANEL_WIDTH = 240  # CSS pixels, at most, of a panel of the side-by-side grid
PAGE_CSS = """
.rel { display: block; font-size: 11px; color: var(--muted); }
.rel.up { color: #1a7f37; } .rel.down { color: var(--bad); }
td.best .v { font-weight: 700; }
#class-table { width: auto; min-width: 50%; }
#class-table th:not(:first-child), #class-table td:not(:first-child) { min-width: 96px; }
tr.group td { background: var(--head); font-weight: 600; text-align: left; }
tr.ref td:first-child::after { content: "reference"; margin-left: 6px; font-size: 11px; color: var(--muted);
                               font-weight: 400; }
td a { color: var(--accent); text-decoration: none; }
.side { display: grid; gap: 6px; margin: 0 0 14px; align-items: start; }
.side.head div { color: var(--muted); font-size: 12px; text-align: center; overflow-wrap: anywhere; }
.side figure { margin: 0; border-radius: 4px; overflow: hidden; background: #fafbfc; }
.side img { display: block; width: 100%; height: auto; image-rendering: pixelated; }
.side figcaption { background: #fafbfc; font-size: 12px; text-align: center; padding: 2px 0; }
.side figcaption.low { color: var(--bad); }
.side .missing { background: #282828; color: #ccc; font-size: 12px; padding: 24px 4px; text-align: center; }
.case-name { font-weight: 600; margin: 0 0 4px; overflow-wrap: anywhere; }
.case-name .rank { color: var(--muted); font-weight: 400; margin-right: 6px; }
.case-name .badge { font-weight: 400; }
"""


@dataclass
class GalleryRow:
    """One image of the side-by-side grid, by ``name`` (a video's names its frame): ``panels`` are ``(h, w, 3)``
    uint8 pictures, the image, the ground-truth overlay, then one overlay per model in the comparison's order
    (None where that model has no prediction); ``dice``: per-image Dice by model name; ``mean_dice``: their
    mean (the sort key, worst first)."""

    name: str
    mean_dice: float
    dice: dict[str, float | None]
    panels: list[np.ndarray | None]


def flat_metrics(report: dict[str, Any]) -> dict[str, float | None]:
    """The scores of a ``metrics.json`` dict under flat keys (``class_agnostic.dice``, ``mean.recall``,
    ``frequency_weighted.precision``, ``miou``, ``per_class.<c>.recall``, ``panoptic.pq`` ...): fractions or None."""
    flat: dict[str, float | None] = {}
    for section in ("class_agnostic", "mean", "frequency_weighted"):
        flat.update({f"{section}.{k}": v for k, v in (report.get(section) or {}).items()})
    flat.update({k: report.get(k) for k in ("miou", "pix_acc", "fw_iu")})
    for name, row in (report.get("per_class") or {}).items():
        flat.update({f"per_class.{name}.{k}": v for k, v in row.items()})
    if report.get("panoptic"):
        flat.update({f"panoptic.{k}": report["panoptic"].get(k) for k in ("pq", "sq", "rq")})
    return flat


def relative(values: dict[str, Any], reference: dict[str, Any]) -> dict[str, float | None]:
    """``(value - ref) / ref`` per key of ``values`` (the paper's Table 2, as a fraction); None where either is
    unknown or ref is 0."""
    out: dict[str, float | None] = {}
    for key, v in values.items():
        r = reference.get(key)
        out[key] = None if v is None or r is None or float(r) == 0 else (float(v) - float(r)) / float(r)
    return out


def _mean(scores: Sequence[float | None]) -> float | None:
    known = [s for s in scores if s is not None]
    return float(np.mean(known)) if known else None


@dataclass
class SideBySide:
    """Every image's per-model Dice (``scores``, for comparison.json) and the ``keep`` worst images as
    :class:`GalleryRow` s (lowest mean Dice over the models first, ties by name), of ``models`` in order."""

    models: list[str]
    num_classes: int
    keep: int = 12
    scores: list[dict[str, Any]] = field(default_factory=list)
    rows: list[GalleryRow] = field(default_factory=list)

    def _dice(self, gt: np.ndarray, preds: Sequence[np.ndarray | None]) -> list[float | None]:
        out: list[float | None] = []
        for p in preds:
            try:
                out.append(None if p is None else image_score(gt, p, self.num_classes).dice)
            except ValueError:  # a label above the classes (the evaluation reported the sample)
                out.append(None)
        return out

    def add(self, name: str, image: np.ndarray, gt: np.ndarray, preds: Sequence[np.ndarray | None]) -> None:
        """One image ``(H, W, 3)`` uint8 with its ground truth ``(H, W)`` and each model's prediction (None:
        missing), or a video ``(T, H, W, 3)`` / ``(T, H, W)``, shown and scored by its worst frame."""
        dice = self._dice(gt, preds) if gt.ndim == 2 else []
        if gt.ndim == 3:
            frames = [self._dice(gt[t], [None if p is None else p[t] for p in preds]) for t in range(len(gt))]
            t = min(range(len(frames)), key=lambda i: (_mean(frames[i]) is None, _mean(frames[i]) or 0.0))
            dice, image, gt = frames[t], image[t], gt[t]
            preds = [None if p is None else p[t] for p in preds]
            name = f"{name} (frame {t + 1} of {len(frames)})"
        mean = _mean(dice)
        self.scores.append({"name": name, "mean_dice": mean, "dice": dict(zip(self.models, dice, strict=True))})
        worst = self.rows[-1] if len(self.rows) >= self.keep and self.rows else None
        if mean is None or self.keep <= 0 or (worst is not None and (mean, name) >= (worst.mean_dice, worst.name)):
            return
        present = [p for p in preds if p is not None]
        c = max([self.num_classes, *(int(a.max()) for a in [gt, *present] if a.size)])  # stray labels coloured too
        small, (g, *ps) = thumbnail(image, [gt, *present])
        shrunk = iter(ps)
        panels: list[np.ndarray | None] = [small, overlay(small, g, num_classes=c)]
        panels += [None if p is None else overlay(small, next(shrunk), num_classes=c) for p in preds]
        self.rows.append(GalleryRow(name, mean, dict(zip(self.models, dice, strict=True)), panels))
        self.rows = sorted(self.rows, key=lambda r: (r.mean_dice, r.name))[: self.keep]

    def images(self) -> list[dict[str, Any]]:
        """Every image's scores, worst first (images no model predicted last)."""
        return sorted(self.scores, key=lambda s: (s["mean_dice"] is None, s["mean_dice"] or 0.0, s["name"]))


def fmt_value(value: Any, kind: str) -> str:
    """A table cell: a score in % ("–" when undefined), a count with separators, seconds ("?" when unknown)."""
    if value is None:
        return "–" if kind == "score" else "?"
    if kind == "score":
        return f"{100 * float(value):.2f}"
    if kind == "seconds":
        return f"{float(value):.1f}"
    return f"{int(value):,}"


def fmt_relative(rel: float | None) -> str:
    """A relative change ``(model - ref) / ref`` in %, signed; "" when undefined."""
    return "" if rel is None else f"{100 * rel:+.1f}%"


def summary_columns(comparison: dict[str, Any]) -> list[tuple[str, str, str]]:
    """:data:`SUMMARY_COLUMNS` less PQ when no model has it."""
    has_pq = any(m["values"].get("panoptic.pq") is not None for m in comparison["models"])
    return [c for c in SUMMARY_COLUMNS if c[0] != "panoptic.pq" or has_pq]


def class_columns(comparison: dict[str, Any]) -> list[tuple[str, str]]:
    """``(key prefix, label)`` of the per-class table: every class any model scored, class-agnostic, fw."""
    names: list[str] = []
    for m in comparison["models"]:
        names += [c for c in m["metrics"].get("classes", []) if c not in names]
    cols = [(f"per_class.{c}", c) for c in names]
    return [*cols, ("class_agnostic", "class-agnostic"), ("frequency_weighted", "fw")]


# ----- terminal tables ---------------------------------------------------------------------------------
def _rich_table(title: str, head: list[str]) -> Table:
    table = Table(title=title, title_justify="left")
    for k, col in enumerate(head):
        table.add_column(col, justify="left" if k == 0 else "right")
    return table


def summary_table(comparison: dict[str, Any]) -> Table:
    """A row per model (scores in %), and under every other model its change relative to the reference."""
    cols = summary_columns(comparison)
    ref = comparison["reference"]
    table = _rich_table(
        f"Comparison on {comparison['data']} ({comparison['num_images']} images; % and relative change vs {ref})",
        ["model", "family", *(label for _, label, _ in cols)],
    )
    for m in comparison["models"]:
        mark = " (ref)" if m["name"] == ref else ""
        table.add_row(
            escape(m["name"] + mark), m["family"], *(fmt_value(m["values"].get(k), kind) for k, _, kind in cols)
        )
        if m["name"] != ref:
            rel = [fmt_relative(m["relative"].get(k)) or "–" for k, _, _ in cols]
            table.add_row(f"  vs {escape(ref)}", "", *rel, style="dim")
    return table


def class_table(comparison: dict[str, Any]) -> Table:
    """The paper's Table 2 layout: per metric a group of model rows, a column per class, class-agnostic, fw."""
    cols = class_columns(comparison)
    ref = comparison["reference"]
    table = _rich_table("Per class (%), relative change vs " + ref, ["model", *(label for _, label in cols)])
    for metric, label in CLASS_METRICS:
        table.add_row(f"[bold]{label}[/bold]", *([""] * len(cols)), end_section=False)
        for m in comparison["models"]:
            keys = [f"{prefix}.{metric}" for prefix, _ in cols]
            table.add_row(escape(m["name"]), *(fmt_value(m["values"].get(k), "score") for k in keys))
            if m["name"] != ref:
                table.add_row(
                    f"  vs {escape(ref)}", *(fmt_relative(m["relative"].get(k)) or "–" for k in keys), style="dim"
                )
        table.add_section()
    return table


def print_comparison(comparison: dict[str, Any], console: Console) -> None:
    """The summary table, the per-class table and the notes."""
    console.print(summary_table(comparison))
    console.print(class_table(comparison))
    for note in comparison.get("notes") or []:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", soft_wrap=True)


# ----- the HTML page ------------------------------------------------------------------------------------
def _best(comparison: dict[str, Any], key: str) -> float | None:
    values = [m["values"].get(key) for m in comparison["models"]]
    known = [float(v) for v in values if v is not None]
    return max(known) if known and len(comparison["models"]) > 1 else None


def _cell(model: dict[str, Any], key: str, kind: str, best: float | None) -> str:
    value = model["values"].get(key)
    rel = model["relative"].get(key)
    cls = " class='best'" if best is not None and value is not None and float(value) == best else ""
    direction = "" if rel is None or kind != "score" or rel == 0 else (" up" if rel > 0 else " down")
    text = fmt_relative(rel)
    rel_html = f"<span class='rel{direction}'>{esc(text)}</span>" if text else ""
    return f"<td{cls}><span class='v'>{esc(fmt_value(value, kind))}</span>{rel_html}</td>"


def _model_label(model: dict[str, Any]) -> str:
    href = quote(f"eval/{model['name']}/report.html")
    return f"<a href='{href}' title='{esc(model['model'])}'>{esc(model['name'])}</a>"


def summary_html(comparison: dict[str, Any]) -> str:
    """The summary table: a row per model, scores in %, relative changes under each value."""
    cols = summary_columns(comparison)
    head = "".join(f"<th>{esc(c)}</th>" for c in ["model", "family", *(label for _, label, _ in cols)])
    rows = []
    for m in comparison["models"]:
        ref = " ref" if m["name"] == comparison["reference"] else ""
        cells = "".join(
            _cell(m, key, kind, _best(comparison, key) if kind == "score" else None) for key, _, kind in cols
        )
        rows.append(
            f"<tr class='model{ref}' data-model='{esc(m['name'])}'><td>{_model_label(m)}</td>"
            f"<td>{esc(m['family'])}</td>{cells}</tr>"
        )
    return (
        f'<table id="summary-table" data-testid="summary-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def class_html(comparison: dict[str, Any]) -> str:
    """The paper's Table 2 layout: a group of rows per metric (recall, precision, Dice), a row per model in
    each, a column per class then class-agnostic and frequency-weighted; relative changes under the values."""
    cols = class_columns(comparison)
    head = "".join(f"<th>{esc(c)}</th>" for c in ["model", *(label for _, label in cols)])
    rows = []
    for metric, label in CLASS_METRICS:
        rows.append(f"<tr class='group'><td colspan='{len(cols) + 1}'>{esc(label)} (%)</td></tr>")
        for m in comparison["models"]:
            ref = " ref" if m["name"] == comparison["reference"] else ""
            cells = "".join(
                _cell(m, f"{prefix}.{metric}", "score", _best(comparison, f"{prefix}.{metric}")) for prefix, _ in cols
            )
            rows.append(f"<tr class='model{ref}' data-metric='{metric}'><td>{_model_label(m)}</td>{cells}</tr>")
    return (
        f'<table id="class-table" data-testid="class-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _swatch(label: int, num_classes: int) -> str:
    r, g, b = (int(v) for v in palette(num_classes)[label])
    return f'<span class="swatch" style="background: rgb({r}, {g}, {b})"></span>'


def _panel(picture: np.ndarray | None, alt: str, caption: str | None = None, low: bool = False) -> str:
    if picture is None:
        return '<figure><div class="missing">no prediction</div></figure>'
    cap = "" if caption is None else f"<figcaption class='{'low' if low else ''}'>{esc(caption)}</figcaption>"
    return f'<figure><img alt="{esc(alt)}" src="{png_data_uri(picture)}">{cap}</figure>'


def grid(comparison: dict[str, Any], rows: Sequence[GalleryRow], class_names: Sequence[str]) -> str:
    """The side-by-side grid: a header, then per image its name and image | ground truth | each model."""
    models = [m["name"] for m in comparison["models"]]
    cols = len(models) + 2  # panels of at most PANEL_WIDTH pixels: a few models do not fill the page
    template = f"style='grid-template-columns: repeat({cols}, minmax(0, 1fr)); max-width: {cols * PANEL_WIDTH}px'"
    heads = "".join(f"<div>{esc(h)}</div>" for h in ["image", "ground truth", *models])
    c = len(class_names) - 1
    legend = "".join(f"<span>{_swatch(k, c)}{esc(n)}</span>" for k, n in enumerate(class_names) if k > 0)
    total = comparison.get("num_images") or 0
    shown = f"the {len(rows)} worst of {total} images" if len(rows) < total else f"all {len(rows)} images"
    shown = shown if rows else f"none of {total} images"
    cases = []
    for rank, row in enumerate(rows, start=1):
        panels = [_panel(row.panels[0], f"{row.name}: image"), _panel(row.panels[1], f"{row.name}: ground truth")]
        for name, picture in zip(models, row.panels[2:], strict=True):
            d = row.dice.get(name)
            caption = None if d is None else f"Dice {pct(d, 1)}%"
            panels.append(_panel(picture, f"{row.name}: {name}", caption, d is not None and d < 0.5))
        cases.append(
            f'<div class="case-row" data-name="{esc(row.name)}" data-mean-dice="{row.mean_dice:.6f}">'
            f'<p class="case-name"><span class="rank">#{rank}</span>{esc(row.name)} '
            f'<span class="badge">mean Dice {pct(row.mean_dice, 1)}%</span></p>'
            f'<div class="side" {template}>{"".join(panels)}</div></div>'
        )
    body = "".join(cases) if cases else "<p>No image to show.</p>"
    return (
        '<section id="grid-section"><h2>Side by side: worst first</h2>'
        f'<p class="note">Showing {esc(shown)}, sorted by the mean over the models of the per-image Dice (mean '
        "over the classes present on either side; 100% when neither side has foreground). Videos: the frame "
        "with the lowest mean Dice.</p>"
        f'<div class="legend">{legend}</div><div class="side head" {template}>{heads}</div>'
        f'<div id="grid" data-testid="grid">{body}</div></section>'
    )


def _facts(comparison: dict[str, Any]) -> str:
    b = comparison.get("budget", {})
    minutes = b.get("minutes")
    facts = [
        ("data", f"{comparison['data']}" + (f", split {comparison['split']}" if comparison.get("split") else "")),
        ("images scored", comparison.get("num_images")),
        ("training budget", f"{minutes:g} min per config" if minutes else "each config's own"),
    ]
    if all(m["kind"] == "checkpoint" for m in comparison["models"]):
        facts[-1] = ("training budget", "none here: every model is a checkpoint")
    facts += [
        ("overrides", " ".join(b.get("overrides") or []) or "none"),
        ("reference", comparison["reference"]),
    ]
    facts += [(m["name"], f"{m['model']}; {m['kind']} {m['input']}") for m in comparison["models"]]
    return "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)


def render_comparison(
    comparison: dict[str, Any], rows: Sequence[GalleryRow], class_names: Sequence[str], title: str
) -> str:
    """The page as one HTML document. ``comparison``: the ``comparison.json`` dict; ``rows``: worst first;
    ``class_names``: background first (the legend and the colours)."""
    notes = comparison.get("notes") or []
    notes_html = ""
    if notes:
        items = "".join(f"<li>{esc(n)}</li>" for n in notes)
        notes_html = f'<section id="notes" data-testid="notes"><h2>Notes</h2><ul>{items}</ul></section>'
    body = (
        f'<header><h1>{esc(title)}</h1><dl class="facts">{_facts(comparison)}</dl></header>'
        f'<section id="summary"><h2>Summary</h2>{summary_html(comparison)}'
        '<p class="note">Scores in %; under each value its change relative to the reference, (model &minus; '
        "reference) / reference, as in the paper's Table 2; the best score of a column in bold. Precision is the "
        "per-class IoU (the paper's eq. 2). Steps: optimizer steps the training reached; train s: its wall "
        "time; predict s: the evaluation's wall time (loading, predicting, scoring, writing); &ldquo;?&rdquo;: "
        "unknown. A model's name links to its own report.</p></section>"
        f'<section id="per-class"><h2>Per class</h2>{class_html(comparison)}</section>'
        f"{grid(comparison, rows, class_names)}{notes_html}"
    )
    footer = "Written by rleseg compare on {stamp}. comparison.json beside this file holds the exact values."
    return html_page(title, body, footer, PAGE_CSS)


def write_comparison(
    comparison: dict[str, Any],
    rows: Sequence[GalleryRow],
    class_names: Sequence[str],
    path: str | os.PathLike[str],
    title: str = "rleseg compare",
) -> Path:
    """Render the page and write it to ``path`` atomically; returns the path."""
    dest = Path(path)
    with atomic_path(dest) as tmp:
        tmp.write_text(render_comparison(comparison, rows, class_names, title), encoding="utf-8")
    return dest
