"""``rleseg stats MASKS...``: sequence lengths of tokenized PNG label masks (paper Tables 3-6) and the metric
loss caused by subsampling (Table 11), printed as tables and optionally written as CSV + JSON.

Masks are single-channel PNGs of class ids (0 = background); video schemes read folders of frame PNGs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from rleseg.commands.common import CommandError, OptionError, fmt_int, progress_bar, stdout
from rleseg.tokenizers.stats import (
    DEFAULT_THRESHOLDS,
    LengthStats,
    SchemeSpec,
    SubsamplingLoss,
    make_geometries,
    write_csv,
    write_json,
)


@dataclass
class StatsResult:
    """The rows of the printed tables, and the files written (none without ``out``)."""

    lengths: list[dict[str, Any]]
    loss: list[dict[str, Any]]
    written: list[Path] = field(default_factory=list)


def stats(
    masks: Sequence[Path],
    schemes: Sequence[SchemeSpec],
    *,
    image_sizes: Sequence[int | None] = (None,),
    patch_sizes: Sequence[int | None] = (None,),
    mask_sizes: Sequence[int | None] = (None,),
    frames: Sequence[int] = (2,),
    frame_stride: int | None = None,
    num_classes: int | None = None,
    binarize: bool = False,
    keep_aspect: bool = False,
    thresholds: Sequence[int] = DEFAULT_THRESHOLDS,
    count_eos: bool = False,
    loss: bool = True,
    out: Path | None = None,
    console: Console | None = None,
) -> StatsResult:
    """Tokenize every mask (or video) with every scheme and geometry (I, P, S, N), print the length tables and,
    with ``loss``, the subsampling metric loss; ``out``: also write lengths.csv/.json (and subsampling.csv/.json).

    Raises :class:`OptionError` for a bad geometry or scheme option, :class:`CommandError` for a bad input
    (naming the file).
    """
    c = 1 if binarize else num_classes
    try:
        geometries = make_geometries(
            list(image_sizes), list(patch_sizes), list(mask_sizes), list(frames), frame_stride, keep_aspect
        )
        lengths = LengthStats(schemes, geometries, c, list(thresholds), count_eos=count_eos)
        subs = SubsamplingLoss(geometries, c) if loss else None
    except ValueError as err:
        raise OptionError(str(err)) from None

    def add(item: np.ndarray, where: Path) -> None:
        try:
            lengths.add(item)
            if subs is not None:
                subs.add(item)
        except ValueError as err:
            raise CommandError(f"{where}: {err}") from None

    # the bar is gone (transient) before an error propagates to the CLI's message
    if lengths.needs_video:
        videos = collect_videos(masks)
        what = f"{len(videos)} videos"
        with progress_bar(transient=True) as bar:
            task = bar.add_task(f"tokenizing {what}", total=len(videos))
            for folder, files in videos:
                add(read_video(files, c, binarize), folder)
                bar.advance(task)
    else:
        paths = collect_static(masks)
        what = f"{len(paths)} masks"
        with progress_bar(transient=True) as bar:
            task = bar.add_task(f"tokenizing {what}", total=len(paths))
            for f in paths:
                add(read_mask(f, c, binarize), f)
                bar.advance(task)

    con = console or stdout()
    result = StatsResult(lengths.rows(), subs.rows() if subs is not None else [])
    meta = lengths.meta()
    inferred = " (inferred)" if meta["num_classes_inferred"] else ""
    con.print(
        f"[bold]{what}[/bold], C={meta['num_classes']}{inferred}; "
        f"lengths count run tokens{' and EOS' if count_eos else ' (no EOS)'}; "
        f"highlighted: smallest threshold exceeded by < {meta['tolerance']:.0%} of the windows"
    )
    if meta["num_classes_inferred"] and meta["num_classes"] >= 50:
        con.print(
            f"[yellow]note:[/yellow] the largest class id is {meta['num_classes']}; for 0/255 binary masks "
            "use --binarize, and set --num-classes to check the ids"
        )
    for title, table in length_tables(result.lengths, list(thresholds)):
        con.print(f"\n[bold]{title}[/bold]")
        con.print(table)
    if subs is not None:
        con.print(
            "\n[bold]Metrics retained after subsampling[/bold] (Table 11): each window scored against "
            "upsample(subsample(window)), in % (100 = nothing lost)"
        )
        con.print(loss_table(result.loss))
    if out is not None:
        result.written += [
            write_csv(result.lengths, out / "lengths.csv"),
            write_json(result.lengths, out / "lengths.json", meta),
        ]
        if subs is not None:
            result.written += [
                write_csv(result.loss, out / "subsampling.csv"),
                write_json(result.loss, out / "subsampling.json", subs.meta()),
            ]
        con.print("wrote " + ", ".join(str(p) for p in result.written))
    return result


# ----- reading masks ------------------------------------------------------------------------------------
def _is_png(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() == ".png" and not p.name.startswith(".")


def _pngs_in(folder: Path) -> list[Path]:
    from rleseg.data.formats.files import natural_key

    return sorted((p for p in folder.iterdir() if _is_png(p)), key=lambda p: natural_key(p.name))


def collect_static(paths: Sequence[Path]) -> list[Path]:
    """PNG files named directly, and every PNG under the named folders (recursively), in natural order."""
    from rleseg.data.formats.files import natural_key

    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise CommandError(f"{path}: no such file or folder")
        if path.is_dir():
            found = sorted(
                (p for p in path.rglob("*") if _is_png(p)),
                key=lambda p: tuple(natural_key(part) for part in p.relative_to(path).parts),
            )
            if not found:
                raise CommandError(f"{path}: folder holds no PNG masks")
            files += found
        elif path.suffix.lower() != ".png":
            raise CommandError(f"{path}: not a PNG file; expected single-channel PNG label masks")
        else:
            files.append(path)
    return files


def collect_videos(paths: Sequence[Path]) -> list[tuple[Path, list[Path]]]:
    """Videos: a folder of frame PNGs is one video; a folder of such folders gives one per sub-folder."""
    from rleseg.data.formats.files import list_dirs

    videos: list[tuple[Path, list[Path]]] = []
    for path in paths:
        if not path.exists():
            raise CommandError(f"{path}: no such file or folder")
        if not path.is_dir():
            raise CommandError(f"{path}: video schemes need videos, given as folders of frame PNGs, not single files")
        frames = _pngs_in(path)
        if frames:
            videos.append((path, frames))
            continue
        subs = [(d, _pngs_in(d)) for d in list_dirs(path)]
        subs = [(d, f) for d, f in subs if f]
        if not subs:
            raise CommandError(f"{path}: no frame PNGs in this folder or its sub-folders")
        videos += subs
    return videos


def read_mask(path: Path, num_classes: int | None, binarize: bool) -> np.ndarray:
    """One label PNG -> ``(H, W)`` int32; CommandError naming the file on a bad file or class id."""
    from rleseg.data.formats.files import read_label

    try:
        mask = read_label(path)
    except ValueError as err:
        raise CommandError(str(err)) from None
    if binarize:
        return (mask > 0).astype(np.int32)
    top = int(mask.max()) if mask.size else 0
    if num_classes is not None and top > num_classes:
        raise CommandError(
            f"{path}: holds class id {top}, above --num-classes {num_classes}; class ids must be "
            f"0..{num_classes} (use --binarize for 0/255 binary masks)"
        )
    return mask


def read_video(frames: Sequence[Path], num_classes: int | None, binarize: bool) -> np.ndarray:
    """Frame PNGs of one video -> ``(T, H, W)``; CommandError naming the frame whose size differs."""
    arrays: list[np.ndarray] = []
    for f in frames:
        arr = read_mask(f, num_classes, binarize)
        if arrays and arr.shape != arrays[0].shape:
            (h, w), (h0, w0) = arr.shape, arrays[0].shape
            raise CommandError(
                f"{f}: frame is {h}x{w} (HxW) but {frames[0]} is {h0}x{w0}; frames of a video must match"
            )
        arrays.append(arr)
    return np.stack(arrays)


# ----- tables -------------------------------------------------------------------------------------------
def _fmt_pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def length_tables(rows: list[dict[str, Any]], thresholds: list[int]) -> list[tuple[str, Table]]:
    """One rich table per (I, P, S): statistics down, schemes across, like the paper's Tables 3-6."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["I"], r["P"], r["S"], r["N"]), []).append(r)
    tables: list[tuple[str, Table]] = []
    for (i, p, s, n), grp in groups.items():
        title = f"Sequence lengths  I={'native' if i is None else i}  P={fmt_int(p)}  S={fmt_int(s)}"
        table = Table()
        tables.append((title + ("" if n is None else f"  N={n}"), table))
        table.add_column("", style="bold")
        for r in grp:
            head = r["scheme"] + ("\n(binarised)" if r["binarised"] else "")
            table.add_column(head, justify="right")
        table.add_row("windows", *(fmt_int(r["windows"]) for r in grp))
        table.add_row("mean", *("-" if r["mean"] is None else f"{r['mean']:.1f}" for r in grp))
        table.add_row("max", *(fmt_int(r["max"]) for r in grp))
        for t in _shown_thresholds(grp, thresholds):
            cells = []
            for r in grp:
                cell = _fmt_pct(r[f"over_{t}"])
                cells.append(f"[black on yellow]{cell}[/]" if r["suggested_L"] == t else cell)
            table.add_row(f"> {t}", *cells)
        table.add_row("V", *(fmt_int(r["V"]) for r in grp))
    return tables


def _shown_thresholds(rows: list[dict[str, Any]], thresholds: list[int]) -> list[int]:
    """Thresholds up to the first one that no window of any column exceeds (the files keep them all)."""
    shown = []
    for t in thresholds:
        shown.append(t)
        if all(not r[f"over_{t}"] for r in rows):
            break
    return shown


def loss_table(rows: list[dict[str, Any]]) -> Table:
    """The metrics retained after subsampling (Table 11): one row per (I, P, S), metrics in %."""
    table = Table(
        caption="scored: windows with foreground / all; recall..cell dice: averaged over scored windows; "
        "cell: all classes merged (class-agnostic); pooled: one confusion matrix over all windows, as "
        "`rleseg evaluate` scores a dataset",
    )
    cols = ("recall", "prec", "dice", "cell rec", "cell prec", "cell dice", "pooled dice", "pooled cell dice")
    for col in ("I", "P", "S", "scored", *cols):
        table.add_column(col, justify="right")
    keys = (
        "recall",
        "precision",
        "dice",
        "recall_agnostic",
        "precision_agnostic",
        "dice_agnostic",
        "dice_pooled",
        "dice_agnostic_pooled",
    )
    for r in rows:
        scored = f"{r['windows'] - r['empty']:,}/{r['windows']:,}"
        metrics = ("-" if r.get(k) is None else f"{100 * r[k]:.1f}" for k in keys)
        i = "native" if r["I"] is None else fmt_int(r["I"])
        table.add_row(i, fmt_int(r["P"]), fmt_int(r["S"]), scored, *metrics)
    return table
