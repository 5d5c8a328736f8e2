"""Training curves from Lightning's CSV logs: loss, token accuracy, validation metrics and learning rate.

``rleseg train`` logs to ``<out_dir>/logs/metrics.csv`` (Lightning's CSVLogger): one row per logging event,
columns ``epoch``, ``step``, ``train/loss``, ``train/token_acc``, ``val/loss``, ``val/token_acc``,
``val/dice``, ``val/dice_agnostic``, ``val/miou``, ``val/pix_acc`` and ``lr-<optimizer>/pg<k>``; a value is
empty in rows that did not log it. Lightning deletes ``metrics.csv`` when a run is resumed, so ``rleseg
train --resume`` first keeps it as ``metrics.part-<k>.csv``; :func:`read_training_log` joins the parts
(and ``version_<k>/metrics.csv`` folders of other loggers) in order, a later part replacing the steps it
logs again.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rleseg.atomic import atomic_path

TRAIN_KEYS = ("train/loss", "train/token_acc")
VAL_KEYS = ("val/loss", "val/token_acc", "val/dice", "val/dice_agnostic", "val/miou", "val/pix_acc")
KNOWN_KEYS = TRAIN_KEYS + VAL_KEYS
PART_PATTERN = re.compile(r"metrics\.part-(\d+)\.csv$")
VERSION_PATTERN = re.compile(r"version_(\d+)$")


@dataclass(frozen=True)
class TrainingLog:
    """The metrics of a run as columns of one length ``R`` (rows in step order; NaN where not logged).

    ``step``/``epoch``: ``(R,)`` float; ``values``: column name -> ``(R,)`` float; ``sources``: CSV files read.
    """

    step: np.ndarray
    epoch: np.ndarray
    values: dict[str, np.ndarray]
    sources: list[Path]

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of the rows where ``key`` was logged; empty arrays when it never was."""
        if key not in self.values:
            return np.zeros(0), np.zeros(0)
        v = self.values[key]
        keep = np.isfinite(v)
        return self.step[keep], v[keep]

    @property
    def lr_keys(self) -> list[str]:
        """The learning-rate columns (``lr-AdamW/pg1`` ...), in name order."""
        return sorted(k for k in self.values if k.startswith("lr-") or k == "lr")

    def epoch_starts(self) -> list[tuple[int, float]]:
        """``(epoch, first step)`` of every epoch seen, in epoch order."""
        keep = np.isfinite(self.epoch)
        starts: dict[int, float] = {}
        for e, s in zip(self.epoch[keep].astype(int).tolist(), self.step[keep].tolist(), strict=True):
            starts[e] = min(s, starts.get(e, math.inf))
        return sorted(starts.items())


def find_metric_files(path: Path) -> list[Path]:
    """The CSV files of a run, oldest first: for a folder (a run folder or its ``logs/``),
    ``metrics.part-<k>.csv`` by k, ``version_<k>/metrics.csv`` by k, then ``metrics.csv``. A file is read
    alone, except ``metrics.csv``, which comes after the ``metrics.part-<k>.csv`` beside it (the same run,
    resumed)."""
    if path.is_file():
        if path.name != "metrics.csv":
            return [path]
        parts = sorted(
            (int(m.group(1)), p) for p in path.parent.iterdir() if (m := PART_PATTERN.match(p.name)) and p.is_file()
        )
        return [p for _, p in parts] + [path]
    if not path.is_dir():
        raise ValueError(f"{path}: no such file or folder; expected a run folder or its logs/metrics.csv")
    for folder in (path / "logs", path):
        if not folder.is_dir():
            continue
        parts = sorted(
            (int(m.group(1)), p) for p in folder.iterdir() if (m := PART_PATTERN.match(p.name)) and p.is_file()
        )
        versions = sorted(
            (int(m.group(1)), d / "metrics.csv")
            for d in folder.iterdir()
            if (m := VERSION_PATTERN.match(d.name)) and (d / "metrics.csv").is_file()
        )
        files = [p for _, p in parts] + [p for _, p in versions]
        if (folder / "metrics.csv").is_file():
            files.append(folder / "metrics.csv")
        if files:
            return files
    raise ValueError(
        f"{path}: no metrics.csv found in it or in {path / 'logs'}; `rleseg train` writes "
        "<train.out_dir>/logs/metrics.csv"
    )


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, float]]]:
    """Columns and rows of one metrics CSV, values as floats (NaN for empty cells)."""
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        columns = list(reader.fieldnames or [])
        if not columns:
            raise ValueError(f"{path}: is empty, it holds no rows yet (not even a header)")
        rows: list[dict[str, float]] = []
        for line, row in enumerate(reader, start=2):
            parsed: dict[str, float] = {}
            for key, text in row.items():
                if key is None:
                    raise ValueError(f"{path}, line {line}: more values than the {len(columns)} columns of the header")
                text = (text or "").strip()
                try:
                    parsed[key] = float(text) if text else math.nan
                except ValueError:
                    raise ValueError(f"{path}, line {line}: column {key!r} holds {text!r}; expected a number") from None
            rows.append(parsed)
    if "step" not in columns:
        raise ValueError(f"{path}: no 'step' column (columns: {columns}); expected a Lightning CSVLogger metrics.csv")
    return columns, rows


def read_training_log(path: Path) -> TrainingLog:
    """Read a run's metrics (a CSV file, a run folder or its ``logs/`` folder; see :func:`find_metric_files`).

    Raises ValueError naming the file when nothing is found, a file has no rows or no known metric column,
    or a value is not a number.
    """
    files = find_metric_files(path)
    columns: list[str] = []
    rows: list[dict[str, float]] = []
    for f in files:
        cols, new = _read_csv(f)
        steps = [r["step"] for r in new if math.isfinite(r.get("step", math.nan))]
        if steps:  # a resumed part logs again from its checkpoint's step: it replaces what came after
            first = min(steps)
            rows = [r for r in rows if r.get("step", math.nan) < first]
        rows += new
        columns += [c for c in cols if c not in columns]
    names = ", ".join(str(f) for f in files)
    if not rows:
        raise ValueError(
            f"{names}: holds no rows yet (metrics are written every train.log_every_n_steps steps and after validation)"
        )
    metric_cols = [c for c in columns if c in KNOWN_KEYS or c.startswith("lr-")]
    if not any(c in KNOWN_KEYS for c in metric_cols):
        raise ValueError(f"{names}: none of the columns {', '.join(KNOWN_KEYS)}; its columns are {columns}")
    step = np.array([r.get("step", math.nan) for r in rows], dtype=np.float64)
    order = np.argsort(step, kind="stable")
    values = {c: np.array([r.get(c, math.nan) for r in rows], dtype=np.float64)[order] for c in metric_cols}
    epoch = np.array([r.get("epoch", math.nan) for r in rows], dtype=np.float64)[order]
    return TrainingLog(step[order], epoch, values, files)


def smooth(values: np.ndarray, weight: float = 0.8) -> np.ndarray:
    """Exponential moving average with bias correction (as TensorBoard's smoothing): ``(R,)`` -> ``(R,)``."""
    out = np.empty_like(values, dtype=np.float64)
    acc = 0.0
    for i, v in enumerate(values.tolist()):
        acc = weight * acc + (1 - weight) * v
        out[i] = acc / (1 - weight ** (i + 1))
    return out


TRAIN_COLOUR = "#1f77b4"
VAL_COLOUR = "#d62728"
METRICS = (  # column, label, colour
    ("val/dice", "Dice", "#2ca02c"),
    ("val/dice_agnostic", "Dice (class-agnostic)", "#98df8a"),
    ("val/miou", "mIoU", "#9467bd"),
    ("val/pix_acc", "pixel accuracy", "#8c564b"),
)


def plot_training_curves(csv_path: Path, out_png: Path) -> Path:
    """Plot a run's curves into ``out_png`` (written atomically) and return it.

    ``csv_path``: ``logs/metrics.csv``, or the run folder / logs folder (all parts of a resumed run).
    Panels: loss (train per step, smoothed, and val), token accuracy (train, val), validation Dice / Dice
    class-agnostic / mIoU / pixel accuracy, learning rate; x is the optimizer step, epochs are marked by
    dotted lines. A metric that was never logged is left out and its panel says so.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    log = read_training_log(csv_path)
    fig = Figure(figsize=(11, 7.2), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, sharex=True)
    _panel(axes[0, 0], log, [("train/loss", "train", TRAIN_COLOUR), ("val/loss", "val", VAL_COLOUR)], "loss", False)
    _panel(
        axes[0, 1],
        log,
        [("train/token_acc", "train", TRAIN_COLOUR), ("val/token_acc", "val", VAL_COLOUR)],
        "token accuracy (%)",
        True,
    )
    _panel(axes[1, 0], log, list(METRICS), "validation metrics (%)", True, best="val/dice")
    lr = [(k, k.removeprefix("lr-"), None) for k in _distinct(log, log.lr_keys)]
    _panel(axes[1, 1], log, lr, "learning rate", False)
    for ax in axes[1]:
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes.flat:
        _mark_epochs(ax, log)
    if csv_path.is_file():
        run = csv_path.parent.parent.name if csv_path.parent.name == "logs" else csv_path.stem
    else:
        run = csv_path.parent.name if csv_path.name == "logs" else csv_path.name
    steps = int(np.nanmax(log.step)) + 1 if log.step.size else 0
    epochs = len(log.epoch_starts())
    fig.suptitle(f"training curves: {run}  ({steps} steps, {epochs} epochs)", fontsize=12)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png")
    return out_png


def _panel(
    ax: object,
    log: TrainingLog,
    curves: Sequence[tuple[str, str, str | None]],
    title: str,
    percent: bool,
    best: str | None = None,
) -> None:
    """Draw ``curves`` (column, label, colour) on ``ax``; per-step series get a smoothed line over a faint
    raw one; sparse (validation) series get markers. A panel with nothing logged says so."""
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(True, alpha=0.3)
    drawn = 0
    scale = 100.0 if percent else 1.0
    for key, label, colour in curves:
        x, y = log.series(key)
        if x.size == 0:
            continue
        drawn += 1
        y = y * scale
        if key.startswith("train/") and x.size > 20:
            ax.plot(x, y, color=colour, alpha=0.25, linewidth=0.8)
            ax.plot(x, smooth(y), color=colour, linewidth=1.6, label=f"{label} (smoothed)")
        else:
            marker = "o" if key.startswith("val/") or x.size <= 20 else None
            ax.plot(x, y, color=colour, linewidth=1.4, marker=marker, markersize=3.5, label=label)
        if key == best:
            i = int(np.argmax(y))
            right = x.size > 1 and x[i] > x[0] + 0.6 * (x[-1] - x[0])
            ax.plot([x[i]], [y[i]], marker="o", markersize=9, markerfacecolor="none", color=colour)
            ax.annotate(
                f"best {label} {y[i]:.1f} (step {int(x[i])})",
                (x[i], y[i]),
                xytext=(-8 if right else 8, 7),
                textcoords="offset points",
                ha="right" if right else "left",
                fontsize=8,
                color=colour,
            )
    missing = [label for key, label, _ in curves if log.series(key)[0].size == 0]
    if drawn:
        ax.legend(fontsize=8, loc="best")
        if missing:
            ax.text(0.01, 0.01, "not logged: " + ", ".join(missing), transform=ax.transAxes, fontsize=7, color="0.4")
    else:
        what = ", ".join(k for k, _, _ in curves) or "no column"
        ax.text(0.5, 0.5, f"not logged\n({what})", transform=ax.transAxes, ha="center", va="center", color="0.4")
    if title == "learning rate" and drawn:
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    if percent and drawn:  # from 0, so a flat curve is not blown up into noise
        top = max(float(np.nanmax(log.values[k])) * scale for k, _, _ in curves if log.series(k)[0].size)
        ax.set_ylim(0, max(5.0, min(102.0, 1.1 * top)))


def _distinct(log: TrainingLog, keys: list[str]) -> list[str]:
    """``keys`` without the columns equal to an earlier one (parameter groups sharing one learning rate)."""
    kept: list[str] = []
    for k in keys:
        if not any(np.array_equal(log.values[k], log.values[j], equal_nan=True) for j in kept):
            kept.append(k)
    return kept


def _mark_epochs(ax: object, log: TrainingLog) -> None:
    """Dotted vertical lines where epochs begin (after the first), labelled when there are few."""
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    starts = log.epoch_starts()[1:]
    label_every = max(1, math.ceil(len(starts) / 10))
    for n, (epoch, step) in enumerate(starts):
        ax.axvline(step, color="0.6", linestyle=":", linewidth=0.8, zorder=0)
        if n % label_every == 0:
            ax.text(step, 1.0, f" ep {epoch}", transform=ax.get_xaxis_transform(), fontsize=7, color="0.45", va="top")


def plot_run_curves(run_dir: Path, warn: Callable[[str], None]) -> Path | None:
    """Plot ``run_dir/logs`` into ``run_dir/curves.png`` after training; on any failure call ``warn`` with
    the reason and return None instead of raising (a finished run must not fail because of its plot)."""
    try:
        return plot_training_curves(run_dir / "logs", run_dir / "curves.png")
    except Exception as err:  # plotting is a convenience: report any failure and go on
        warn(f"could not plot the training curves: {err}")
        return None


def keep_log_before_resume(log_dir: Path) -> Path | None:
    """Rename ``log_dir/metrics.csv`` to the next free ``metrics.part-<k>.csv`` and return the new path
    (None when there is no metrics.csv). Call it before resuming a run: Lightning's CSVLogger deletes
    metrics.csv when it starts, and :func:`read_training_log` joins the parts back together."""
    current = log_dir / "metrics.csv"
    if not current.is_file():
        return None
    taken = [int(m.group(1)) for p in log_dir.iterdir() if (m := PART_PATTERN.match(p.name))]
    target = log_dir / f"metrics.part-{max(taken, default=0) + 1}.csv"
    current.rename(target)
    return target


def drop_log_parts(log_dir: Path) -> list[Path]:
    """Delete the ``metrics.part-<k>.csv`` files of an earlier run (a new run, not resumed, starts in
    ``log_dir``: Lightning deletes its metrics.csv too). Returns the deleted paths."""
    if not log_dir.is_dir():
        return []
    parts = [p for p in log_dir.iterdir() if PART_PATTERN.match(p.name) and p.is_file()]
    for p in parts:
        p.unlink()
    return parts
