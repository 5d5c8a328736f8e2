"""The report's charts as PNG bytes: per-class bars, the confusion matrix, the sequence-length histogram, and
per-seed scores of several models.

Drawn with matplotlib's object API on the Agg renderer (no pyplot, no display, no global state), so they
can be made from any thread or process. Scores are fractions in ``[0, 1]`` (None: undefined) drawn in %.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

METRIC_COLOURS = ("#4c72b0", "#dd8452", "#55a868")  # three series: blue, orange, green
INK = "#1f2933"
GRID = "#d9dee4"
DPI = 144  # charts are drawn at about 1.4x their size on the page, so they stay sharp


def _png(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white", bbox_inches="tight", pad_inches=0.08)
    return buf.getvalue()


def _style(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(GRID)
    ax.tick_params(colors=INK, labelsize=9)
    ax.yaxis.grid(True, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def grouped_bars(
    rows: Mapping[str, Mapping[str, float | None]], series: Sequence[tuple[str, str]], title: str
) -> bytes:
    """Bars per row (e.g. a class) and series (e.g. recall, precision, dice), in %, as PNG bytes.

    ``rows``: row name -> {series key -> fraction or None}; ``series``: (key, legend label) pairs. An
    undefined value draws no bar and is marked "n/a". Values are written on the bars up to 12 rows.
    """
    names = list(rows)
    if not names:
        raise ValueError(f"{title}: nothing to draw (no rows)")
    k = len(series)
    width = 0.8 / k
    fig = Figure(figsize=(max(5.4, min(12.0, 1.2 + 0.32 * k * len(names))), 3.3), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(names))
    for j, (key, label) in enumerate(series):
        vals = [rows[n].get(key) for n in names]
        heights = [0.0 if v is None else 100 * float(v) for v in vals]
        pos = x + (j - (k - 1) / 2) * width
        bars = ax.bar(pos, heights, width * 0.92, label=label, color=METRIC_COLOURS[j % len(METRIC_COLOURS)])
        if len(names) <= 12:
            for bar, v in zip(bars, vals, strict=True):
                text = "n/a" if v is None else f"{100 * float(v):.0f}"
                ax.annotate(
                    text,
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color=INK,
                )
    ax.set_xticks(x, names, rotation=30 if len(names) > 6 else 0, ha="right" if len(names) > 6 else "center")
    ax.set_ylim(0, 110)
    ax.set_yticks([0, 25, 50, 75, 100])
    ax.set_ylabel("%", color=INK)
    ax.set_title(title, loc="left", fontsize=10, color=INK)
    _style(ax)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=k, frameon=False, fontsize=8, handlelength=1.2)
    return _png(fig)


def seed_dots(
    models: Mapping[str, Mapping[str, Sequence[float | None]]], panels: Sequence[tuple[str, str]], ylabel: str
) -> bytes:
    """A panel per ``(key, title)`` of ``panels``; in each, per model a dot per value of ``models[name][key]``
    (fractions drawn in %, None skipped) and a line at their mean. PNG bytes."""
    names = list(models)
    if not names or not panels:
        raise ValueError("seed_dots: nothing to draw (no models or no panels)")
    fig = Figure(figsize=(3.0 * len(panels), 3.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    for ax, (key, title) in zip(axes, panels, strict=True):
        for x, name in enumerate(names):
            known = [100 * float(v) for v in models[name].get(key, []) if v is not None]
            ax.scatter([x] * len(known), known, s=22, color=METRIC_COLOURS[x % len(METRIC_COLOURS)], zorder=3)
            if known:
                ax.hlines(float(np.mean(known)), x - 0.28, x + 0.28, color=INK, linewidth=1.6, zorder=4)
        ax.set_xticks(range(len(names)), names, rotation=20 if len(names) > 3 else 0)
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.set_title(title, loc="left", fontsize=10, color=INK)
        _style(ax)
    axes[0].set_ylabel(ylabel, color=INK)
    return _png(fig)


def _count(n: int) -> str:
    """Compact pixel counts: 950, 12k, 3.4M."""
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 10_000:
        return f"{n / 1e3:.0f}k"
    return str(n)


def confusion_heatmap(matrix: np.ndarray, labels: Sequence[str]) -> bytes:
    """Row-normalised confusion matrix ``(K, K)`` (rows ground truth, columns prediction) as PNG bytes.

    Each cell shows the share of its row in % and, up to 12 labels, the pixel count. A row without pixels
    is left blank. ``labels``: the ``K`` names, background first.
    """
    m = np.asarray(matrix, dtype=np.int64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(labels):
        raise ValueError(f"confusion matrix of shape {m.shape} does not fit {len(labels)} labels")
    k = m.shape[0]
    totals = m.sum(1, keepdims=True)
    share = np.divide(m, totals, out=np.full(m.shape, np.nan), where=totals > 0)
    side = min(11.0, 2.6 + 0.7 * k)
    fig = Figure(figsize=(side + 1.0, side), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(np.ma.masked_invalid(100 * share), cmap="Blues", vmin=0, vmax=100)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="% of the ground-truth row")
    if k <= 12:
        for i in range(k):
            for j in range(k):
                if np.isnan(share[i, j]):
                    continue
                dark = share[i, j] > 0.55
                text = f"{100 * share[i, j]:.1f}%\n{_count(int(m[i, j]))}"
                ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if dark else INK)
    ax.set_xticks(range(k), labels, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("prediction", color=INK)
    ax.set_ylabel("ground truth", color=INK)
    ax.tick_params(labelsize=9, colors=INK)
    return _png(fig)


def length_histogram(generated: np.ndarray, target: np.ndarray, budget: int | None) -> bytes:
    """Histograms of generated and ground-truth sequence lengths ``(num_windows,)`` with the budget L
    marked, as PNG bytes. Either array may be empty (not drawn)."""
    gen = np.asarray(generated, dtype=np.int64).reshape(-1)
    tgt = np.asarray(target, dtype=np.int64).reshape(-1)
    if gen.size == 0 and tgt.size == 0:
        raise ValueError("no sequence lengths to draw")
    top = max(int(gen.max(initial=0)), int(tgt.max(initial=0)), budget or 0)
    bins = np.linspace(0, top + 1, min(40, top + 2)).tolist()
    fig = Figure(figsize=(5.4, 2.9), layout="constrained")
    ax = fig.add_subplot()
    for values, label, colour in ((tgt, "ground truth (encoded at S)", "#9aa5b1"), (gen, "generated", "#4c72b0")):
        if values.size:
            ax.hist(values, bins=bins, alpha=0.75, label=label, color=colour)
    if budget is not None:
        ax.axvline(budget, color="#c0392b", linestyle="--", linewidth=1.5, label=f"budget L = {budget}")
    ax.set_xlabel("tokens per window (EOS included)", color=INK)
    ax.set_ylabel("windows", color=INK)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _style(ax)
    ax.legend(frameon=False, fontsize=8)
    return _png(fig)
