"""``rleseg predict CKPT INPUT... --out DIR``: full-size masks and overlays for image files.

For every input image ``<name>.<ext>`` it writes ``DIR/masks/<name>.png`` (single-channel class ids, uint8;
16-bit above 255 classes), ``DIR/instances/<name>.png`` (16-bit instance ids, ``iw`` models only) and
``DIR/overlays/<name>.png`` (the image with the classes blended in colour and outlined). Every file is
written atomically; an existing output is an error unless ``overwrite``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape

from rleseg.commands.common import CommandError, compact_ids, label_png_array, progress, stdout, write_png

MERGES = ("vote", "latest", "max", "min")


@dataclass(frozen=True)
class Job:
    """One input image and the files it becomes."""

    image: Path
    mask: Path
    overlay: Path
    instances: Path | None

    def outputs(self) -> list[Path]:
        return [self.mask, self.overlay, *([self.instances] if self.instances is not None else [])]


def collect_inputs(inputs: list[Path]) -> list[Path]:
    """Image files named directly, and the image files directly inside named folders (natural order)."""
    from rleseg.data.formats.files import IMAGE_EXTENSIONS, natural_key

    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found = sorted(
                (p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                key=lambda p: natural_key(p.name),
            )
            found = [p for p in found if not p.name.startswith(".")]
            if not found:
                raise CommandError(f"{path}: folder holds no images ({'|'.join(IMAGE_EXTENSIONS)})")
            files += found
        elif path.is_file():
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                raise CommandError(f"{path}: not an image file; expected {'|'.join(IMAGE_EXTENSIONS)}")
            files.append(path)
        else:
            raise CommandError(f"{path}: no such file or folder")
    return files


def plan(files: list[Path], out: Path, instances: bool, overwrite: bool) -> list[Job]:
    """Output paths for every input; CommandError on two inputs with one name or an existing output."""
    jobs: list[Job] = []
    seen: dict[str, Path] = {}
    for f in files:
        if f.stem in seen:
            raise CommandError(f"{f} and {seen[f.stem]} would both be written as {f.stem}.png; rename one")
        seen[f.stem] = f
        name = f"{f.stem}.png"
        inst = out / "instances" / name if instances else None
        jobs.append(Job(f, out / "masks" / name, out / "overlays" / name, inst))
    if not overwrite:
        for job in jobs:
            for p in job.outputs():
                if p.exists():
                    raise CommandError(f"{p} already exists; pass --overwrite to replace it")
    return jobs


def predict(
    checkpoint: Path,
    inputs: list[Path],
    out: Path,
    *,
    stride: int | None = None,
    merge: str = "vote",
    device: str = "cpu",
    batch_size: int = 8,
    overwrite: bool = False,
    console: Console | None = None,
) -> list[Job]:
    """Predict every input image with ``checkpoint`` and write masks, instances (``iw``) and overlays."""
    from rleseg.data.formats.files import read_rgb
    from rleseg.inference.predictor import Predictor
    from rleseg.report.overlay import overlay

    if merge not in MERGES:
        raise CommandError(f"unknown merge {merge!r}; expected one of {', '.join(MERGES)}")
    files = collect_inputs(inputs)
    try:
        predictor = Predictor.from_checkpoint(
            checkpoint, device=device, batch_size=batch_size, stride=stride, merge=merge
        )
    except (ValueError, RuntimeError) as err:  # RuntimeError: e.g. a CUDA device that is not there
        raise CommandError(str(err)) from None
    num_classes = len(predictor.class_names) - 1
    jobs = plan(files, out, predictor.task.tok.instance_aware, overwrite)
    unreadable: list[str] = []
    for job in progress(jobs, f"predicting {len(jobs)} image{'s' if len(jobs) != 1 else ''}"):
        try:
            image = read_rgb(job.image)
        except ValueError as err:  # DatasetError names the file; carry on with the others
            unreadable.append(str(err))
            continue
        pred = predictor.predict_image(image)
        write_png(job.mask, label_png_array(pred.mask, f"{job.mask}: class mask"))
        if job.instances is not None and pred.instances is not None:
            ids = compact_ids(pred.instances)
            if ids.size and int(ids.max()) > np.iinfo(np.uint16).max:
                raise CommandError(f"{job.instances}: {int(ids.max())} instances do not fit a 16-bit PNG")
            write_png(job.instances, ids.astype(np.uint16))
        write_png(job.overlay, overlay(image, pred.mask, num_classes=num_classes))
    con = console or stdout()
    done = len(jobs) - len(unreadable)
    kinds = "masks/, instances/, overlays/" if predictor.task.tok.instance_aware else "masks/, overlays/"
    con.print(f"wrote {done} prediction(s) to [bold]{escape(str(out))}[/bold] ({kinds})")
    con.print(f"classes: {', '.join(f'{k}={n}' for k, n in enumerate(predictor.class_names))}")
    if unreadable:
        lines = "\n  ".join(unreadable)
        raise CommandError(f"{len(unreadable)} of {len(jobs)} input(s) could not be read:\n  {lines}")
    return jobs
