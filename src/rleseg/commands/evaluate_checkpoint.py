"""``rleseg evaluate CKPT DATA --out DIR``: predict a dataset with a checkpoint, score it, write the report.

``DATA`` is any dataset :func:`rleseg.data.formats.open_dataset` opens (folder, video-folder, COCO panoptic,
Cityscapes), or ``synthetic-cells`` / ``synthetic-cells-video``: the embedded synthetic split generated from
the checkpoint's own config and seed (``test`` is held out from training). ``--split`` picks a split; without
it a folder dataset with a ``test/`` sub-folder is evaluated on ``test``, a plain folder in full, and COCO /
Cityscapes on their only split.

Every image is predicted at full size (sliding windows and stitching, :class:`~rleseg.inference.predictor.
Predictor`), whatever the model family. Videos: a clip model predicts clip by clip, an image model frame by
frame, a streaming model frame by frame from its own previous prediction (``predict_video``). Written
(atomically): ``DIR/masks/<name>.png`` (videos: ``DIR/masks/<video>/<t>.png``), ``DIR/instances/...``
(16-bit, instance-aware models), ``DIR/metrics.json`` (with PQ for instance-aware models on data with
instances, and for token models the sequence-length statistics) and ``DIR/report.html``; with ``overlays``, also
``DIR/overlays/<name>.png`` (image | ground truth | prediction) and, for videos, ``DIR/overlays/<video>.gif``.

A sample that cannot be read, or whose mask holds a class the checkpoint does not know, is one problem line
naming it; the others are scored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from rich.console import Console
from rich.markup import escape

from rleseg.commands.common import (
    CommandError,
    compact_ids,
    label_png_array,
    print_metrics,
    progress,
    stdout,
    write_png,
)

if TYPE_CHECKING:
    from rleseg.data.sample import Sample, SegmentationSource
    from rleseg.inference.predictor import Prediction, Predictor
    from rleseg.report.gallery import Gallery
    from rleseg.report.html import LengthData

SYNTHETIC = ("synthetic-cells", "synthetic-cells-video")
OUTPUTS = ("metrics.json", "report.html")
MASK_FOLDERS = ("masks", "instances", "overlays")


@dataclass
class CheckpointEvaluation:
    """What :func:`evaluate_checkpoint` did: the ``metrics.json`` dict, the files written, problems."""

    report: dict[str, Any]
    metrics_path: Path
    report_path: Path
    scored: int
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def open_data(data: str, split: str | None, predictor: Predictor) -> tuple[SegmentationSource, str, str | None]:
    """The samples to evaluate, a description (for messages and the report) and the split used (None: all of
    a plain folder, or the only split of a COCO / Cityscapes dataset); CommandError if none."""
    from rleseg.data.formats import open_dataset
    from rleseg.data.formats.files import DatasetError

    path = Path(data)
    if data in SYNTHETIC and not path.exists():
        from rleseg.training.build import SPLITS, build_sources

        chosen = split or "test"
        if chosen not in SPLITS:
            raise CommandError(f"--split {chosen!r}: {data} has the splits {', '.join(SPLITS)}")
        cfg = predictor.cfg
        source = build_sources(dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, source=data)))[chosen]
        seed = cfg.train.seed
        return source, f"{data}, split {chosen} (seed {seed}, generated like the checkpoint's training data)", chosen
    if not path.exists():
        raise CommandError(
            f"{path}: not found; expected a dataset folder, a COCO panoptic .json or {' / '.join(SYNTHETIC)}"
        )
    if split is None and path.is_dir() and (path / "test").is_dir():
        split = "test"
    try:
        opened = open_dataset(path, split=split)
    except DatasetError as err:
        raise CommandError(str(err).replace("pass split= to choose one", "pass --split to choose one")) from None
    return cast("SegmentationSource", opened), f"{path}" + (f", split {split}" if split else ""), split


def check_outputs(out: Path, overwrite: bool) -> None:
    """CommandError when ``out`` already holds an evaluation, unless ``overwrite`` (then its PNG masks go)."""
    existing = [out / name for name in OUTPUTS if (out / name).exists()]
    existing += [out / sub for sub in MASK_FOLDERS if (out / sub).is_dir() and any((out / sub).rglob("*.png"))]
    if existing and not overwrite:
        raise CommandError(f"{existing[0]} already exists; pass --overwrite to replace the evaluation in {out}")
    for sub in MASK_FOLDERS:  # stale masks of an earlier run would mix with the new ones
        if (out / sub).is_dir():
            for picture in [*(out / sub).rglob("*.png"), *(out / sub).rglob("*.gif")]:
                picture.unlink()


def safe_name(name: str) -> str:
    """A sample name as a file name (path separators replaced)."""
    return name.replace("/", "_").replace("\\", "_") or "unnamed"


def _write_masks(out: Path, name: str, pred: Prediction) -> None:
    """``out/masks/<name>.png`` (videos: ``out/masks/<name>/<t>.png``) and the instances alike."""
    layers = [("masks", pred.mask)]
    if pred.instances is not None:  # renumbered 1..n over the whole video, so ids stay the same across frames
        ids = compact_ids(pred.instances)
        if ids.size and int(ids.max()) > np.iinfo(np.uint16).max:
            raise CommandError(f"{out / 'instances' / name}: {int(ids.max())} instances do not fit a 16-bit PNG")
        layers.append(("instances", ids.astype(np.uint16)))
    for sub, arr in layers:
        frames = [(f"{name}.png", arr)] if arr.ndim == 2 else [(f"{name}/{t:06d}.png", a) for t, a in enumerate(arr)]
        for rel, a in frames:
            path = out / sub / rel
            write_png(path, a if sub == "instances" else label_png_array(a, f"{path}: class mask"))


def _write_overlays(out: Path, name: str, sample: Sample, pred: Prediction, num_classes: int) -> None:
    """``out/overlays/<name>.png``: image | ground truth | prediction; a video: one such strip per frame in
    ``out/overlays/<name>.gif``."""
    from rleseg.commands.common import write_gif
    from rleseg.report.overlay import side_by_side

    if not sample.is_video:
        write_png(out / "overlays" / f"{name}.png", side_by_side(sample.image, sample.mask, pred.mask, num_classes))
        return
    strips = [side_by_side(i, g, p, num_classes) for i, g, p in zip(sample.image, sample.mask, pred.mask, strict=True)]
    write_gif(out / "overlays" / f"{name}.gif", strips, fps=2)


def evaluate_checkpoint(
    checkpoint: Path,
    data: str,
    out: Path,
    *,
    split: str | None = None,
    stride: int | None = None,
    merge: str | None = None,
    frame_stride: int | None = None,
    views: int | None = None,
    earliest_start: float | None = None,
    device: str = "cpu",
    batch_size: int | None = None,
    limit: int | None = None,
    overwrite: bool = False,
    gallery_size: int = 24,
    overlays: bool = False,
    title: str | None = None,
    console: Console | None = None,
) -> CheckpointEvaluation:
    """Predict ``data`` (``limit``: its first samples only) with ``checkpoint``, score it against the ground
    truth and write masks, ``metrics.json`` and ``report.html`` into ``out`` (``overlays``: also the overlay
    strips); print the metric tables. ``frame_stride``: clip stride T of a video checkpoint (default: the
    config's ``data.eval_frame_stride``, else N). ``views``: test-time views per window (1, 2, 4 or 8; default:
    the config's ``data.eval_views``). ``earliest_start``: token models' ``generation.earliest_start`` (default:
    the config's; 0: off). ``title``: the report's heading (default: checkpoint and data)."""
    from rleseg.commands.evaluate_report import print_written, training_curves, write_outputs
    from rleseg.data.formats.files import DatasetError
    from rleseg.inference.predictor import ImageForClipModelError, Predictor
    from rleseg.inference.stitch import MERGE_RULES
    from rleseg.metrics import SegmentationEvaluator
    from rleseg.report.gallery import Gallery
    from rleseg.report.html import LengthData

    if merge is not None and merge not in MERGE_RULES:
        raise CommandError(f"unknown merge {merge!r}; expected one of {', '.join(MERGE_RULES)}")
    if limit is not None and limit < 1:
        raise CommandError(f"--limit must be at least 1, got {limit}")
    check_outputs(out, overwrite)
    try:
        predictor = Predictor.from_checkpoint(
            checkpoint,
            device=device,
            batch_size=batch_size,
            stride=stride,
            merge=merge,
            views=views,
            earliest_start=earliest_start,
        )
    except (ValueError, RuntimeError) as err:  # RuntimeError: e.g. a CUDA device that is not there
        raise CommandError(str(err)) from None
    source, described, split = open_data(data, split, predictor)
    names = predictor.class_names
    c = len(names) - 1
    data_classes = list(source.classes)
    if len(data_classes) - 1 > c:
        raise CommandError(
            f"{data}: holds {len(data_classes) - 1} classes ({', '.join(data_classes[1:])}) but {checkpoint} "
            f"predicts {c} ({', '.join(names[1:])}); expected at most {c}"
        )
    notes: list[str] = []
    if data_classes[1:] != names[1 : len(data_classes)]:
        notes.append(f"class names differ: data {data_classes[1:]}, checkpoint {names[1:]}; scored by class id")
    tok = predictor.segmenter.tokenizer  # None for families that write no tokens
    video = predictor.is_video
    n = predictor.num_frames
    cfg = predictor.cfg
    merge = predictor.merge
    budget = None if tok is None else (tok.max_len or cfg.tokenizer.max_len)
    if frame_stride is not None and video and not 1 <= frame_stride <= n:
        raise CommandError(f"--frame-stride {frame_stride}: clips of N={n} frames need a stride in 1..{n}")
    if frame_stride is not None and not video:
        notes.append(f"--frame-stride {frame_stride} ignored: the checkpoint is an image model (frame by frame)")
    evaluator = SegmentationEvaluator(names[1:])
    gallery = Gallery(c, keep=gallery_size)
    count = len(source) if limit is None else min(limit, len(source))
    con = console or stdout()
    model_facts = predictor.segmenter.facts()
    what = "; ".join(value for _, value in model_facts)
    con.print(
        f"evaluating [bold]{escape(str(checkpoint))}[/bold] ({escape(what)}) on "
        f"{escape(described)}: {count} sample{'s' if count != 1 else ''}",
        soft_wrap=True,
    )
    generated: list[np.ndarray] = []
    target: list[np.ndarray] = []
    problems: list[str] = []
    scored = 0
    no_instances = False
    for index in progress(range(count), f"predicting {count} sample{'s' if count != 1 else ''}"):
        try:
            sample = source[index]
        except (DatasetError, ValueError) as err:
            problems.append(str(err))
            continue
        if sample.mask.size and int(sample.mask.max()) > c:
            problems.append(
                f"{sample.name}: ground truth holds class id {int(sample.mask.max())}; {checkpoint} knows 0..{c}"
            )
            continue
        try:
            pred = predictor.predict_sample(sample, frame_stride)
        except ImageForClipModelError as err:  # every sample would fail alike
            raise CommandError(str(err)) from None
        except ValueError as err:  # e.g. a sample the predictor cannot take; name it and go on
            problems.append(f"{sample.name}: cannot predict: {err}")
            continue
        name = safe_name(sample.name)
        _write_masks(out, name, pred)
        if overlays:
            _write_overlays(out, name, sample, pred, c)
        gi = sample.instances if predictor.instance_aware else None
        no_instances |= predictor.instance_aware and gi is None
        evaluator.update(sample.mask, pred.mask, gi, pred.instances if gi is not None else None)
        scored += 1
        if tok is not None:
            generated.append(pred.token_lengths)
            target.append(_target_lengths(sample, tok, cfg, stride, video, frame_stride))
        _add_to_gallery(gallery, name, sample, pred)
    if no_instances:
        notes.append(f"no panoptic quality for samples without instance masks in {data}")
    lengths = None if tok is None else LengthData(_cat(generated), _cat(target), budget)
    curves, curve_note = training_curves(checkpoint)
    notes += [curve_note] if curve_note else []
    facts = [
        ("checkpoint", str(checkpoint)),
        ("data", described),
        *model_facts,
        ("parameters", f"{predictor.segmenter.num_parameters:,}"),
        ("windows", _geometry(cfg, stride, merge, predictor.views)),
        ("classes", ", ".join(names[1:])),
    ]
    if video:
        t = frame_stride or cfg.data.eval_frame_stride or n
        facts.insert(-1, ("clips", f"N={n} frames every T={t} frames, overlaps merged by {merge}"))
    source_info = {
        "checkpoint": str(checkpoint),
        "data": str(data),
        "split": split,
        "limit": limit,
        "views": predictor.views,
        "earliest_start": cfg.generation.earliest_start if tok is not None else None,
    }
    written = write_outputs(
        out,
        evaluator,
        gallery,
        title=title or f"rleseg evaluation: {checkpoint.name} on {Path(data).name or data}",
        facts=facts,
        lengths=lengths,
        curves_png=curves,
        problems=problems,
        notes=notes,
        source=source_info,
    )
    _print(con, written.report, lengths, problems, notes, scored)
    print_written(written, con)
    return CheckpointEvaluation(written.report, written.metrics_path, written.report_path, scored, problems, notes)


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def _geometry(cfg: Any, stride: int | None, merge: str, views: int = 1) -> str:
    """Windows as predicted: I, P, stride, merge rule, test-time views."""
    d = cfg.data
    size = f"resized to {d.image_size} (longer side)" if d.image_size else "at their own size"
    seen = f", {views} test-time views each" if views > 1 else ""
    if not d.patch_size:
        return f"images {size}, one window per image{seen}"
    stride_px = stride or d.eval_stride or d.patch_size
    return f"images {size}, windows P={d.patch_size}, stride {stride_px}, merge {merge}{seen}"


def _target_lengths(
    sample: Sample, tok: Any, cfg: Any, stride: int | None, video_model: bool, frame_stride: int | None
) -> np.ndarray:
    """Uncut ground-truth token lengths of the sample's windows (frame by frame for an image tokenizer)."""
    from rleseg.data.sample import Sample
    from rleseg.report.seqlen import target_lengths

    d = cfg.data
    kw = {"image_size": d.image_size, "patch_size": d.patch_size, "stride": stride or d.eval_stride}
    if not sample.is_video or video_model:
        return target_lengths(sample, tok, frame_stride=frame_stride or d.eval_frame_stride, **kw)
    inst = sample.instances
    frames = [
        Sample(sample.image[t], sample.mask[t], None if inst is None else inst[t], f"{sample.name}@{t}")
        for t in range(sample.image.shape[0])
    ]
    return np.concatenate([target_lengths(f, tok, **kw) for f in frames])


def _add_to_gallery(gallery: Gallery, name: str, sample: Sample, pred: Prediction) -> None:
    """An image as it is; a video by its worst frame."""
    from rleseg.report.gallery import image_score

    if not sample.is_video:
        gallery.add(name, sample.mask, pred.mask, sample.image)
        return
    scores = [image_score(g, p, gallery.num_classes) for g, p in zip(sample.mask, pred.mask, strict=True)]
    t = min(range(len(scores)), key=lambda i: (scores[i].dice, -scores[i].pixel_error))
    label = f"{name} (frame {t + 1} of {len(scores)})"
    gallery.add(label, sample.mask[t], pred.mask[t], sample.image[t], scores[t])


def _print(
    con: Console,
    report: dict[str, Any],
    lengths: LengthData | None,
    problems: list[str],
    notes: list[str],
    scored: int,
) -> None:
    """Notes and problems (stderr), the metric tables and the sequence-length table."""
    from rleseg.commands.common import stderr
    from rleseg.commands.evaluate import panoptic_table
    from rleseg.commands.evaluate_report import lengths_table

    err = stderr()
    for note in notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}", soft_wrap=True)
    if problems:
        err.print(f"[bold red]{len(problems)} problem(s):[/bold red]")
        for line in problems:
            err.print(escape(line), soft_wrap=True)
    print_metrics(report, con, f"Metrics (%), {scored} sample{'s' if scored != 1 else ''}")
    if "panoptic" in report:
        con.print(panoptic_table(report["panoptic"]))
    if lengths is not None:
        con.print(lengths_table(lengths))
