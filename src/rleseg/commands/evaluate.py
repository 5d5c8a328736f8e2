"""``rleseg evaluate --pred DIR --gt DIR --out DIR``: score label masks already on disk.

Both folders use the folder layout: ``masks/<name>.png`` (class ids, 0 = background) and, optionally,
``instances/<name>.png`` (instance ids, 0 = none; 8 or 16-bit), as written by ``rleseg predict`` and
``rleseg data synth``. Masks are paired by ``<name>``. Class names come from ``--classes`` (a ``classes.txt``:
one name per line, background first), else the ground truth's ``classes.txt``, else they are numbered
``class_1 .. class_K`` with ``K`` the largest id in any mask of either side.

Every problem is one line naming its file: a ground-truth mask with no prediction, a prediction with no ground
truth, an instance mask missing (when both sides have ``instances/``), sizes that differ, a class id above the
class count, an unreadable file. A pair with a problem is left out; all the others are scored. The report
(``DIR/metrics.json``, see :mod:`rleseg.metrics.report`) gains ``"panoptic"`` when both sides have
``instances/``. ``DIR/report.html`` shows the same numbers with charts and a gallery, worst first, of
ground truth | prediction (image | ground truth | prediction when the ground truth has ``images/<name>.*``).

Scoring a checkpoint (``rleseg evaluate CKPT DATA``, predicting first) is
:mod:`rleseg.commands.evaluate_checkpoint`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rleseg.commands.common import CommandError, print_metrics, progress, stderr, stdout


@dataclass(frozen=True)
class MaskPair:
    """The files of one name: ground-truth and predicted masks, and instance masks (None when not scored)."""

    name: str
    gt: Path
    pred: Path
    gt_instances: Path | None = None
    pred_instances: Path | None = None


@dataclass
class ClassNames:
    """Foreground class names (labels ``1..C``) and where they came from, for messages."""

    names: list[str]
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.names)


@dataclass
class Evaluation:
    """What :func:`evaluate_folders` did: the ``metrics.json`` dict, its path and the HTML report's, pairs
    scored, every problem."""

    report: dict[str, Any]
    metrics_path: Path
    scored: int
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report_path: Path | None = None


def _masks_in(folder: Path, role: str) -> dict[str, Path]:
    """``<name>`` -> path of every visible ``.png`` in ``folder`` (natural order); CommandError if missing."""
    from rleseg.data.formats.files import list_files

    if not folder.is_dir():
        raise CommandError(
            f"{folder}: folder not found; expected the {role} in the folder layout, {folder.parent}/masks/<name>.png"
        )
    return {p.stem: p for p in list_files(folder) if p.suffix.lower() == ".png"}


def pair_masks(pred_dir: Path, gt_dir: Path) -> tuple[list[MaskPair], list[str], list[str]]:
    """Pair ``pred_dir/masks`` with ``gt_dir/masks`` by name (instances too when both sides have them).

    Returns (pairs in the ground truth's natural order, problems, notes). CommandError when a ``masks/``
    folder is missing or neither side holds a mask.
    """
    gt = _masks_in(gt_dir / "masks", "ground truth")
    pred = _masks_in(pred_dir / "masks", "predictions")
    if not gt and not pred:
        raise CommandError(f"{gt_dir / 'masks'} and {pred_dir / 'masks'}: no PNG masks to evaluate")
    problems: list[str] = []
    for name, path in gt.items():
        if name not in pred:
            problems.append(f"{path}: ground truth has no prediction; expected {pred_dir / 'masks' / path.name}")
    for name, path in pred.items():
        if name not in gt:
            problems.append(f"{path}: prediction has no ground truth; expected {gt_dir / 'masks' / path.name}")
    gt_inst_dir, pred_inst_dir = gt_dir / "instances", pred_dir / "instances"
    panoptic = gt_inst_dir.is_dir() and pred_inst_dir.is_dir()
    notes: list[str] = []
    if gt_inst_dir.is_dir() != pred_inst_dir.is_dir():
        have, lack = (gt_inst_dir, pred_inst_dir) if gt_inst_dir.is_dir() else (pred_inst_dir, gt_inst_dir)
        notes.append(f"no panoptic quality: {have} exists but {lack} does not (both sides need instance masks)")
    pairs: list[MaskPair] = []
    for name, path in gt.items():
        if name not in pred:
            continue
        if not panoptic:
            pairs.append(MaskPair(name, path, pred[name]))
            continue
        gi, pi = gt_inst_dir / f"{name}.png", pred_inst_dir / f"{name}.png"
        missing = [p for p in (gi, pi) if not p.is_file()]
        for p in missing:
            problems.append(f"{p}: instance mask not found; {p.parent} exists, so every mask needs one")
        if not missing:
            pairs.append(MaskPair(name, path, pred[name], gi, pi))
    return pairs, problems, notes


def class_names(classes: Path | None, gt_dir: Path, pairs: list[MaskPair]) -> ClassNames:
    """Foreground names from ``classes`` (a classes.txt), else ``gt_dir/classes.txt``, else numbered.

    Numbered: ``class_1 .. class_K``, ``K`` the largest id in any readable mask of ``pairs`` (at least 1).
    CommandError when a given or found class list cannot be read.
    """
    from rleseg.data.formats.files import DatasetError, read_classes_txt, read_label

    path = classes if classes is not None else gt_dir / "classes.txt"
    if classes is not None and not classes.is_file():
        raise CommandError(f"{classes}: class list not found; expected a classes.txt, background first")
    if path.is_file():
        try:
            names = read_classes_txt(path)
        except DatasetError as err:
            raise CommandError(str(err)) from None
        return ClassNames(names[1:], str(path))
    top = 0
    for pair in pairs:
        for p in (pair.gt, pair.pred):
            with contextlib.suppress(DatasetError):  # an unreadable file is reported when its pair is scored
                top = max(top, int(read_label(p).max(initial=0)))
    return ClassNames([f"class_{i}" for i in range(1, max(top, 1) + 1)], "numbered (no classes.txt)")


def _read_pair(
    pair: MaskPair, classes: ClassNames
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None] | None, list[str]]:
    """Decode and check one pair: ``(gt, pred, gt_instances, pred_instances)`` ``(H, W)`` int32, or problems."""
    from rleseg.data.formats.files import attempt, read_label, size_mismatch

    problems: list[str] = []
    gt = attempt(lambda p: read_label(p, "ground-truth mask"), pair.gt, problems)
    pred = attempt(lambda p: read_label(p, "predicted mask"), pair.pred, problems)
    gi = pi = None
    if pair.gt_instances is not None and pair.pred_instances is not None:
        gi = attempt(lambda p: read_label(p, "ground-truth instance mask"), pair.gt_instances, problems)
        pi = attempt(lambda p: read_label(p, "predicted instance mask"), pair.pred_instances, problems)
    checks = (
        (pair.pred, pred, "predicted mask"),
        (pair.gt_instances, gi, "ground-truth instance mask"),
        (pair.pred_instances, pi, "predicted instance mask"),
    )
    if gt is not None:
        for path, arr, what in checks:
            if path is not None and arr is not None and arr.shape != gt.shape:
                problems.append(size_mismatch(path, arr.shape, pair.gt, gt.shape, what))
    c = classes.num_classes
    for path, arr in ((pair.gt, gt), (pair.pred, pred)):
        if arr is not None and arr.size and int(arr.max()) > c:
            problems.append(
                f"{path}: holds class id {int(arr.max())}, above the {c} classes of {classes.source}; "
                f"expected ids 0..{c}"
            )
    if problems or gt is None or pred is None:
        return None, problems
    return (gt, pred, gi, pi), []


def evaluate_folders(
    pred_dir: Path,
    gt_dir: Path,
    out: Path,
    *,
    classes: Path | None = None,
    console: Console | None = None,
) -> Evaluation:
    """Score ``pred_dir`` against ``gt_dir``, write ``out/metrics.json``, print problems and the tables.

    Problems go to stderr, one line each; the metric tables to ``console`` (stdout by default). A pair
    with a problem is left out and the rest is scored. CommandError on a missing folder or class list.
    """
    from rleseg.commands.evaluate_report import write_outputs
    from rleseg.metrics import SegmentationEvaluator
    from rleseg.report.gallery import Gallery, image_score

    con = console or stdout()
    err = stderr()
    pairs, problems, notes = pair_masks(pred_dir, gt_dir)
    names = class_names(classes, gt_dir, pairs)
    evaluator = SegmentationEvaluator(names.names)
    gallery = Gallery(names.num_classes)
    images = _images_in(gt_dir / "images")
    scored = 0
    for pair in progress(pairs, f"scoring {len(pairs)} masks", console=err):
        arrays, pair_problems = _read_pair(pair, names)
        if arrays is None:
            problems.extend(pair_problems)
            continue
        try:
            evaluator.update(*arrays)
        except ValueError as exc:  # not expected after the checks above; still one line naming the file
            problems.append(f"{pair.gt}: cannot score against {pair.pred}: {exc}")
            continue
        scored += 1
        gt, pred = arrays[0], arrays[1]
        score = image_score(gt, pred, names.num_classes)
        if gallery.would_keep(score):
            gallery.add(pair.name, gt, pred, _gallery_image(images.get(pair.name), gt.shape, notes), score)
    written = write_outputs(
        out,
        evaluator,
        gallery,
        title=f"rleseg evaluation: {pred_dir.name or pred_dir} vs {gt_dir.name or gt_dir}",
        facts=[("predictions", str(pred_dir)), ("ground truth", str(gt_dir)), ("classes", names.source)],
        problems=problems,
        notes=notes,
        source={"pred": str(pred_dir), "gt": str(gt_dir)},
    )
    result = Evaluation(written.report, written.metrics_path, scored, problems, notes, written.report_path)
    print_evaluation(result, con, err, names)
    return result


def _images_in(folder: Path) -> dict[str, Path]:
    """``<name>`` -> image file of ``folder`` (the ground truth's ``images/``), {} when there is none."""
    from rleseg.data.formats.files import IMAGE_EXTENSIONS, list_files

    if not folder.is_dir():
        return {}
    return {p.stem: p for p in list_files(folder) if p.suffix.lower() in IMAGE_EXTENSIONS}


def _gallery_image(path: Path | None, shape: tuple[int, ...], notes: list[str]) -> np.ndarray | None:
    """The image shown beside a pair in the report, or None (a note says why when it exists but is unusable)."""
    from rleseg.data.formats.files import DatasetError, read_rgb

    if path is None:
        return None
    try:
        image = read_rgb(path)
    except DatasetError as err:
        notes.append(f"{err} (the report shows its masks without the image)")
        return None
    if image.shape[:2] != shape:
        h, w = image.shape[:2]
        notes.append(
            f"{path}: image is {h}x{w} but its mask is {shape[0]}x{shape[1]}; the report shows the masks without it"
        )
        return None
    return image


def panoptic_table(panoptic: dict[str, Any], title: str = "Panoptic quality (%)") -> Table:
    """The ``"panoptic"`` section of ``metrics.json`` as a table: PQ, SQ, RQ per class and their mean."""

    def pct(v: Any) -> str:
        return "-" if v is None else f"{100 * float(v):.2f}"

    table = Table(title=title, title_justify="left")
    for col in ("class", "PQ", "SQ", "RQ"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, row in panoptic.get("per_class", {}).items():
        table.add_row(escape(str(name)), *(pct(row.get(k)) for k in ("pq", "sq", "rq")))
    table.add_row("[bold]mean[/bold]", *(pct(panoptic.get(k)) for k in ("pq", "sq", "rq")))
    return table


def print_evaluation(result: Evaluation, console: Console, err: Console, names: ClassNames) -> None:
    """Problems and notes (on ``err``), then the metric tables and what was written (on ``console``)."""
    for note in result.notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}", soft_wrap=True)
    if result.problems:
        err.print(f"[bold red]{len(result.problems)} problem(s):[/bold red]")
        for line in result.problems:
            err.print(escape(line), soft_wrap=True)
    report = result.report
    console.print(f"classes: {escape(', '.join(names.names))} (from {escape(names.source)})", soft_wrap=True)
    images = f"{result.scored} image{'' if result.scored == 1 else 's'}"
    print_metrics(report, console, f"Metrics (%), {images}")
    if "panoptic" in report:
        console.print(panoptic_table(report["panoptic"]))
    left_out = f"; {len(result.problems)} problem(s), see above" if result.problems else ""
    report_html = f" and [bold]{escape(str(result.report_path))}[/bold]" if result.report_path else ""
    console.print(
        f"scored {images}{left_out}; wrote [bold]{escape(str(result.metrics_path))}[/bold]{report_html}",
        soft_wrap=True,
    )
