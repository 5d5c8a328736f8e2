"""What the command modules share: the error type, consoles, progress bars, atomic PNG writes, metric tables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from rleseg.atomic import atomic_path

T = TypeVar("T")


class CommandError(Exception):
    """A user-facing error: the CLI prints ``error: <message>`` and exits with status 1 (no traceback)."""


class OptionError(CommandError):
    """A :class:`CommandError` about an option's value: the CLI reports it as a usage error (exit status 2).

    ``option`` names the option (e.g. ``"--schemes"``) when one is to blame, else None.
    """

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


def stdout() -> Console:
    """Console for results (tables, summaries)."""
    return Console(highlight=False)


def stderr() -> Console:
    """Console for progress bars and notes."""
    return Console(stderr=True, highlight=False)


def progress_bar(console: Console | None = None, *, transient: bool = False) -> Progress:
    """A rich progress bar on stderr: description, bar, count, elapsed and remaining time.

    ``transient``: the bar disappears when done instead of staying on screen.
    """
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=console or stderr(), transient=transient)


def progress(items: Sequence[T], description: str, console: Console | None = None) -> Iterator[T]:
    """Iterate ``items`` under a rich progress bar (count, elapsed, remaining) on stderr."""
    with progress_bar(console) as bar:
        task = bar.add_task(description, total=len(items))
        for item in items:
            yield item
            bar.advance(task)


def write_png(path: Path, array: np.ndarray) -> Path:
    """Write ``array`` as a PNG atomically (a temporary file in the same folder, then ``os.replace``).

    ``(H, W)`` uint8 -> 8-bit gray, ``(H, W)`` uint16 -> 16-bit gray, ``(H, W, 3)`` uint8 -> RGB.
    """
    if array.dtype not in (np.uint8, np.uint16) or array.ndim not in (2, 3):
        raise ValueError(f"cannot write {array.dtype} {array.shape} as PNG; expected uint8/uint16 (H, W[, 3])")
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(array)).save(tmp, format="PNG")
    return path


def write_gif(path: Path, frames: Sequence[np.ndarray], fps: float = 4.0) -> Path:
    """Write ``frames`` (each ``(H, W, 3)`` uint8, one size) as a looping animated GIF, atomically."""
    if not frames:
        raise ValueError(f"{path}: no frames to write")
    shapes = {f.shape for f in frames}
    if len(shapes) != 1 or frames[0].dtype != np.uint8 or frames[0].ndim != 3 or frames[0].shape[-1] != 3:
        raise ValueError(f"{path}: frames must be (H, W, 3) uint8 of one size, got {sorted(shapes)}")
    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    duration = max(20, round(1000 / fps))
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)
    return path


def label_png_array(mask: np.ndarray, what: str = "mask") -> np.ndarray:
    """Label ids as the smallest PNG dtype that holds them: uint8, else uint16; CommandError above 65535."""
    top = int(mask.max()) if mask.size else 0
    if top <= np.iinfo(np.uint8).max:
        return mask.astype(np.uint8)
    if top <= np.iinfo(np.uint16).max:
        return mask.astype(np.uint16)
    raise CommandError(f"{what} holds id {top}, which does not fit a 16-bit PNG")


def compact_ids(instances: np.ndarray) -> np.ndarray:
    """Renumber the non-zero ids of ``instances`` to ``1..n`` in order of value (0 stays 0)."""
    ids, inverse = np.unique(instances, return_inverse=True)
    start = 0 if ids.size and ids[0] == 0 else 1
    return (np.arange(ids.size) + start)[inverse].reshape(instances.shape)


def fmt_int(v: Any) -> str:
    """A table cell: ``None`` -> ``"-"``, integers with thousands separators, anything else as ``str``."""
    return "-" if v is None else f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * float(v):.2f}"


def metrics_table(report: dict[str, Any], title: str = "Metrics (%)") -> Table:
    """The ``metrics.json`` dict as a table: one row per class, the mean and a class-agnostic row; recall,
    precision (per-class IoU, the paper's eq. 2) and dice columns. See :func:`print_metrics`."""
    table = Table(title=title, title_justify="left")
    for col in ("class", "recall", "precision", "dice"):
        table.add_column(col, justify="left" if col == "class" else "right")
    keys = ("recall", "precision", "dice")
    for name, row in report.get("per_class", {}).items():
        table.add_row(str(name), *(_pct(row.get(k)) for k in keys))
    mean = report.get("mean", {})
    table.add_row("[bold]mean[/bold]", *(_pct(mean.get(k)) for k in keys))
    agnostic = report.get("class_agnostic", {})
    table.add_row("[bold]class-agnostic[/bold]", *(_pct(agnostic.get(k)) for k in keys))
    return table


def print_metrics(report: dict[str, Any], console: Console, title: str = "Metrics (%)") -> None:
    """:func:`metrics_table`, then pix_acc, fw_iu and mIoU on one line (all in %)."""
    console.print(metrics_table(report, title))
    console.print(
        f"pix_acc {_pct(report.get('pix_acc'))}   fw_iu {_pct(report.get('fw_iu'))}   "
        f"mIoU {_pct(report.get('miou'))}   (precision = per-class IoU, the paper's eq. 2)"
    )


def scalar_table(values: Iterable[tuple[str, float]], title: str) -> Table:
    """A two-column name / value table."""
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in values:
        table.add_row(name, f"{value:.4f}")
    return table
