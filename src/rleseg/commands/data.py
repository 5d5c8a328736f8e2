"""``rleseg data synth`` (write the synthetic datasets to disk) and ``rleseg data check`` (validate a dataset).

``check`` reads every file of one split once: it collects every problem (the same lines as
``open_dataset(path, format, split, strict=False).validate()``) and, from the readable samples, the
summary: counts, image sizes, class pixel shares, instances and tokenized sequence lengths.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rleseg.commands.common import CommandError, progress, stdout
from rleseg.data.sample import Sample

SYNTH_KINDS = ("cells", "cells-video")
CHECK_THRESHOLDS = (512, 1024, 2048)


# ----- rleseg data synth ----------------------------------------------------------------------------------
def synth(
    kind: str,
    out: Path,
    *,
    seed: int = 0,
    size: int | None = None,
    counts: list[int] | None = None,
    frames: int = 8,
    motion: float = 1.0,
    defocus: float = 0.0,
    overwrite: bool = False,
    console: Console | None = None,
) -> Path:
    """Write the ``train``/``val``/``test`` splits of a synthetic dataset to ``out`` (folder layout).

    ``counts``: images (or videos) per split, train, val, test (default 48,12,12 images / 12,4,4 videos);
    ``size``: side in pixels (default 320 for images, 160 for videos); ``motion``: speed factor of the video
    cells (0.2: about as slow as the paper's IPSC cells); ``defocus``: probability that a video cell is out
    of the focal plane in a frame (:class:`~rleseg.data.synthetic.SyntheticCellVideos`). Refuses a non-empty
    ``out`` unless ``overwrite`` (then the split folders are replaced).
    """
    from rleseg.data.synthetic import SPLITS, write_synthetic

    if kind not in SYNTH_KINDS:
        raise CommandError(f"unknown kind {kind!r}; expected one of {', '.join(SYNTH_KINDS)}")
    video_only = [f"--{k} {v:g}" for k, v, off in (("motion", motion, 1.0), ("defocus", defocus, 0.0)) if v != off]
    if video_only and kind != "cells-video":
        raise CommandError(
            f"{' and '.join(video_only)} set how video cells move and blur; they need --kind cells-video"
        )
    if counts is not None and len(counts) != len(SPLITS):
        raise CommandError(f"--counts needs {len(SPLITS)} numbers (train,val,test), got {len(counts)}")
    if out.exists() and not out.is_dir():
        raise CommandError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise CommandError(f"{out} is not empty; pass --overwrite to replace its train/val/test folders")
    num = dict(zip(SPLITS, counts, strict=True)) if counts is not None else None
    try:
        root = write_synthetic(
            kind,  # type: ignore[arg-type]
            out,
            num_samples=num,
            size=size,
            num_frames=frames,
            seed=seed,
            overwrite=overwrite,
            progress=True,
            motion=motion,
            defocus=defocus,
        )
    except ValueError as err:
        raise CommandError(str(err)) from None
    con = console or stdout()
    what = "videos" if kind == "cells-video" else "images"
    per_split = ", ".join(f"{s} {len(_stems(root / s, kind))}" for s in SPLITS)
    con.print(f"wrote synthetic {kind} to [bold]{escape(str(root))}[/bold]: {per_split} {what}")
    return root


def _stems(split_dir: Path, kind: str) -> list[str]:
    if kind == "cells-video":
        return sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    return sorted(p.stem for p in (split_dir / "images").glob("*.png"))


# ----- rleseg data check ----------------------------------------------------------------------------------
@dataclass
class CheckSummary:
    """What ``check`` found: counts and statistics of the readable samples, and every problem."""

    root: Path
    format: str
    split: str | None
    classes: list[str]
    samples: int = 0
    readable: int = 0
    frames: int = 0
    is_video: bool = False
    sizes: Counter[tuple[int, int]] = field(default_factory=Counter)
    pixels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    images_with: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    instances: int | None = None
    lengths: dict[str, Any] | None = None
    lengths_note: str = ""
    problems: list[str] = field(default_factory=list)


def _open(path: Path, fmt: str, split: str | None) -> tuple[Any, str, str | None]:
    """Open the dataset non-strictly; a ``split`` sub-folder that does not exist falls back to ``path``."""
    from rleseg.data.formats import DatasetError, detect_format, open_dataset

    if not path.exists():
        raise CommandError(f"{path}: no such folder")
    try:
        detected = detect_format(path, split) if fmt == "auto" else fmt
    except DatasetError as err:
        if split is None or (path / split).exists():
            raise CommandError(str(err)) from None
        try:  # DIR is itself one split (DIR/images ...)
            detected, split = (detect_format(path, None) if fmt == "auto" else fmt), None
        except DatasetError:
            raise CommandError(str(err)) from None
    try:
        return open_dataset(path, detected, split, strict=False), detected, split
    except ValueError as err:
        raise CommandError(str(err)) from None


def _class_names(source: Any, max_id: int) -> list[str]:
    """The dataset's class names; when they come from a mask scan that fails, names up to ``max_id``."""
    from rleseg.data.formats import DatasetError
    from rleseg.data.formats.files import default_classes

    class_list = getattr(source, "class_list", None)
    if class_list is not None and class_list.names is None:  # no classes.txt: skip the reader's mask scan
        names = default_classes(max_id)
    else:
        try:
            names = list(source.classes)
        except DatasetError:
            names = default_classes(max_id)
    if len(names) <= max_id:
        names += [f"class_{i}" for i in range(len(names), max_id + 1)]
    return names


def _length_stats(
    scheme: str,
    image_size: int | None,
    patch_size: int | None,
    mask_size: int | None,
    frames: int,
    num_classes: int | None,
) -> Any:
    from rleseg.tokenizers.stats import Geometry, LengthStats

    try:
        geometry = Geometry(image_size, patch_size, mask_size, frames)
        return LengthStats([scheme], geometry, num_classes, CHECK_THRESHOLDS)
    except ValueError as err:
        raise CommandError(f"sequence-length options: {err}") from None


def check(
    path: Path,
    *,
    fmt: str = "auto",
    split: str | None = "train",
    scheme: str = "lac",
    mask_size: int | None = 80,
    patch_size: int | None = 640,
    image_size: int | None = None,
    frames: int = 2,
    console: Console | None = None,
) -> CheckSummary:
    """Validate one split of a dataset and print the summary and every problem; returns the summary.

    Sequence lengths: every readable mask is resized to I (``image_size``, None keeps it), cut into
    P x P windows and subsampled to S x S, then tokenized with ``scheme`` (see ``rleseg stats``).
    """
    source, detected, split = _open(path, fmt, split)
    n = len(source)
    summary = CheckSummary(path, detected, split, [], samples=n, problems=list(source.open_problems))
    declared = getattr(getattr(source, "class_list", None), "num_classes", None)
    stats = _length_stats(scheme, image_size, patch_size, mask_size, frames, declared)
    counts = np.zeros(1, np.int64)
    present = np.zeros(1, np.int64)
    instances = 0
    has_instances = False
    what = f"checking {n} {'samples' if n != 1 else 'sample'} of {path}"
    for index in progress(range(n), what):
        # _read is what validate() runs for each sample: the sample, or None with its problems
        sample, problems = source._read(index)
        summary.problems.extend(problems)
        if sample is None:
            continue
        summary.readable += 1
        counts, present = _add_pixels(sample, counts, present)
        if sample.instances is not None:
            has_instances = True
            instances += int(np.count_nonzero(np.unique(sample.instances)))
        _add_sizes(summary, sample)
        _add_lengths(summary, stats, sample)
    summary.classes = _class_names(source, len(counts) - 1)
    c = len(summary.classes)
    summary.pixels = np.pad(counts, (0, max(0, c - len(counts))))
    summary.images_with = np.pad(present, (0, max(0, c - len(present))))
    summary.instances = instances if has_instances else None
    if summary.readable and not summary.lengths_note:
        summary.lengths = stats.rows()[0]
    print_check(summary, console or stdout())
    return summary


def _add_pixels(sample: Sample, counts: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add the sample's pixels per class to ``counts`` and 1 per class it contains to ``present``."""
    binc = np.bincount(sample.mask.ravel().astype(np.int64))
    size = max(len(counts), len(binc))
    counts = np.pad(counts, (0, size - len(counts)))
    present = np.pad(present, (0, size - len(present)))
    counts[: len(binc)] += binc
    present[: len(binc)] += binc > 0
    return counts, present


def _add_sizes(summary: CheckSummary, sample: Sample) -> None:
    h, w = sample.mask.shape[-2:]
    if sample.is_video:
        summary.is_video = True
        summary.frames += sample.mask.shape[0]
        summary.sizes[(h, w)] += sample.mask.shape[0]
    else:
        summary.frames += 1
        summary.sizes[(h, w)] += 1


def _add_lengths(summary: CheckSummary, stats: Any, sample: Sample) -> None:
    if summary.lengths_note:
        return
    spec = stats.schemes[0]
    if spec.instance_aware and sample.instances is None:
        summary.lengths_note = f"{spec.label} needs instance masks, which this dataset does not have"
        return
    if spec.is_video and not sample.is_video:
        summary.lengths_note = f"{spec.label} is a video scheme; this dataset holds images"
        return
    item = (sample.mask, sample.instances) if spec.instance_aware else sample.mask
    try:
        stats.add(item)
    except ValueError as err:
        summary.lengths_note = f"{sample.name}: {err}"


def _hw(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def print_check(summary: CheckSummary, console: Console) -> None:
    """Print the summary of :func:`check`: counts, sizes, classes, instances, lengths and the problems."""
    where = f"{summary.root}" + (f" (split {summary.split})" if summary.split else "")
    unit = "videos" if summary.is_video else "images"
    head = f"[bold]{escape(where)}[/bold]: {summary.format} format, {summary.samples} {unit}"
    if summary.is_video:
        head += f", {summary.frames} frames"
    if summary.readable != summary.samples:
        head += f" ({summary.readable} readable)"
    console.print(head)
    if summary.sizes:
        by_area = sorted(summary.sizes, key=lambda s: (s[0] * s[1], s))
        common, times = summary.sizes.most_common(1)[0]
        what = "frames" if summary.is_video else "images"
        console.print(
            f"image sizes (HxW): min {_hw(by_area[0])}, max {_hw(by_area[-1])}, "
            f"most common {_hw(common)} ({times} of {sum(summary.sizes.values())} {what})"
        )
    console.print(_class_table(summary))
    if summary.instances is None:
        console.print("instances: no instance masks")
    else:
        console.print(f"instances: {summary.instances:,} (distinct ids per {unit[:-1]}, summed)")
    if summary.lengths is not None:
        console.print(_length_table(summary.lengths))
    elif summary.lengths_note:
        console.print(f"sequence lengths: not computed ({escape(summary.lengths_note)})")
    if summary.problems:
        console.print(f"[bold red]{len(summary.problems)} problem(s):[/bold red]")
        for line in summary.problems:
            console.print(f"  {escape(line)}", soft_wrap=True)
    else:
        console.print("[green]no problems found[/green]")


def _class_table(summary: CheckSummary) -> Table:
    total = int(summary.pixels.sum())
    table = Table(title="classes", title_justify="left")
    for col in ("id", "name", "pixels", "share", "videos with it" if summary.is_video else "images with it"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for k, name in enumerate(summary.classes):
        px = int(summary.pixels[k]) if k < len(summary.pixels) else 0
        share = f"{100 * px / total:.2f}%" if total else "-"
        with_it = int(summary.images_with[k]) if k < len(summary.images_with) else 0
        table.add_row(str(k), escape(name), f"{px:,}", share, f"{with_it:,}")
    return table


def _length_table(row: dict[str, Any]) -> Table:
    geometry = f"I={row['I'] or 'native'} P={row['P'] or 'whole'} S={row['S']}"
    table = Table(
        title=f"sequence lengths: {row['scheme']}, {geometry}" + (f", N={row['N']}" if row["N"] else ""),
        title_justify="left",
        caption="run tokens per window, no EOS (paper Tables 3-6)",
        caption_justify="left",
    )
    cols = ["windows", "mean", "max", *(f"> {t}" for t in CHECK_THRESHOLDS), "V"]
    for col in cols:
        table.add_column(col, justify="right")
    over = [row[f"over_{t}"] for t in CHECK_THRESHOLDS]
    table.add_row(
        f"{row['windows']:,}",
        "-" if row["mean"] is None else f"{row['mean']:.1f}",
        "-" if row["max"] is None else f"{row['max']:,}",
        *("-" if v is None else f"{100 * v:.2f}%" for v in over),
        "-" if row["V"] is None else f"{row['V']:,}",
    )
    return table
