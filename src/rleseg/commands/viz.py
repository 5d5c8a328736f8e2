"""``rleseg viz``: pictures for people. ``viz tokenize`` animates a mask being tokenized run by run;
``viz curves`` plots a training run's loss, token accuracy and validation metrics.

The drawing lives in :mod:`rleseg.report` (``tokenize_anim``, ``curves``); this module reads the user's
files, checks the options and turns every problem into a :class:`CommandError` that names the value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rleseg.commands.common import CommandError
from rleseg.report.tokenize_anim import MAX_SIDE, TokenizeAnimation, tokenize_animation
from rleseg.tokenizers.base import Tokenizer


def _scheme_class(scheme: str) -> type[Tokenizer]:
    from rleseg.tokenizers import tokenizer_class

    try:
        return tokenizer_class(scheme)
    except ValueError as err:
        raise CommandError(f"--scheme: {err}") from None


def _target_shape(shape: tuple[int, int], mask_size: int) -> tuple[int, int]:
    """``(H, W)`` -> the size to subsample to: the longer side becomes ``mask_size``, the aspect is kept."""
    h, w = shape
    if h >= w:
        return mask_size, max(1, round(mask_size * w / h))
    return max(1, round(mask_size * h / w)), mask_size


def to_mask_size(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour ``(..., H, W)`` -> ``(..., h, w)``: the paper's centre-pixel subsampling when the
    factor is a whole number on both axes, else a nearest resize. Labels never mix."""
    from rleseg.tokenizers.resolution import resize_nearest, subsample

    h, w = labels.shape[-2:]
    if (h, w) == size:
        return labels
    if h % size[0] == 0 and w % size[1] == 0 and h // size[0] == w // size[1]:
        return subsample(labels, h // size[0])
    return resize_nearest(labels, size)


def _read(path: Path, what: str) -> np.ndarray:
    from rleseg.data.formats.files import read_label

    if not path.exists():
        raise CommandError(f"{path}: no such file")
    try:
        return read_label(path, what)
    except ValueError as err:  # DatasetError: names the file already
        raise CommandError(str(err)) from None


def _read_frames(folder: Path, num_frames: int, scheme: str) -> np.ndarray:
    """The first ``num_frames`` label PNGs of ``folder`` (natural order) as ``(N, H, W)``."""
    from rleseg.data.formats.files import natural_key

    pngs = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() == ".png" and not p.name.startswith(".")),
        key=lambda p: natural_key(p.name),
    )
    if len(pngs) < num_frames:
        raise CommandError(
            f"{folder}: holds {len(pngs)} frame PNG(s); {scheme} with --num-frames {num_frames} needs {num_frames}"
        )
    frames = [_read(p, "mask") for p in pngs[:num_frames]]
    for p, f in zip(pngs[1:num_frames], frames[1:], strict=True):
        if f.shape != frames[0].shape:
            raise CommandError(
                f"{p}: frame is {f.shape[0]}x{f.shape[1]}, the first frame {pngs[0].name} is "
                f"{frames[0].shape[0]}x{frames[0].shape[1]}; frames of a video must match"
            )
    return np.stack(frames)


def load_tokenize_input(
    mask_path: Path | None,
    *,
    scheme: str,
    mask_size: int,
    num_frames: int,
    instances_path: Path | None = None,
    classes_path: Path | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None, Path | None]:
    """The labels to animate at the mask size: ``(mask, instances or None, class names or None, source)``.

    ``mask_path`` None: the synthetic example. A PNG for image schemes, a folder of frame PNGs for video
    schemes (its first ``num_frames``). ``instances_path``: instance ids for ``iw`` (same size as the mask).
    """
    from rleseg.data.formats.files import read_classes_txt
    from rleseg.report.token_examples import example_mask

    cls = _scheme_class(scheme)
    video = num_frames > 1
    if instances_path is not None and not cls.instance_aware:
        raise CommandError(f"--instances: {scheme} does not use instance ids (only iw does); leave it out")
    names: list[str] | None = None
    if classes_path is not None:
        try:
            names = read_classes_txt(classes_path)
        except ValueError as err:
            raise CommandError(str(err)) from None
    if mask_path is None:
        if instances_path is not None:
            raise CommandError("--instances goes with a MASK file; the synthetic example has its own instances")
        ex = example_mask(mask_size, num_frames, binary=scheme == "binary", seed=seed)
        return ex.mask, ex.instances if cls.instance_aware else None, names or ex.class_names, None
    if video:
        if not mask_path.is_dir():
            raise CommandError(
                f"{mask_path}: {scheme} tokenizes a video of {num_frames} frames; give a folder of frame PNGs "
                "(the first --num-frames are used), or leave MASK out for the synthetic example video"
            )
        mask = _read_frames(mask_path, num_frames, scheme)
    else:
        if mask_path.is_dir():
            raise CommandError(f"{mask_path}: is a folder; {scheme} tokenizes one image: give a label PNG")
        mask = _read(mask_path, "mask")
    size = _target_shape(mask.shape[-2:], mask_size)
    instances = None
    if cls.instance_aware:
        if instances_path is None:
            raise CommandError(
                f"{scheme} encodes instances: give --instances INSTANCES.png (instance ids, 0 = none) with "
                f"{mask_path}, or leave MASK out for the synthetic example"
            )
        instances = _read(instances_path, "instance mask")
        if instances.shape != mask.shape:
            raise CommandError(
                f"{instances_path}: instance mask is {instances.shape[0]}x{instances.shape[1]} but {mask_path} is "
                f"{mask.shape[0]}x{mask.shape[1]}; they must match"
            )
        instances = to_mask_size(instances, size)
    return to_mask_size(mask, size), instances, names, mask_path


def tokenize(
    mask_path: Path | None,
    out: Path,
    *,
    scheme: str = "lac",
    mask_size: int = 16,
    num_frames: int | None = None,
    num_classes: int | None = None,
    order: str | None = None,
    starts: str | None = None,
    instances_path: Path | None = None,
    classes_path: Path | None = None,
    fps: float = 3.0,
    max_frames: int = 150,
    seed: int = 0,
) -> TokenizeAnimation:
    """``rleseg viz tokenize``: write ``out/tokenize-<scheme>.gif`` and ``.png`` for a mask (or the example)."""
    from rleseg.tokenizers import create_tokenizer

    cls = _scheme_class(scheme)
    if mask_size > MAX_SIDE:
        raise CommandError(
            f"--mask-size {mask_size} is too big for a readable animation (at most {MAX_SIDE}: beyond that a "
            "mask pixel is under 4 screen pixels and runs number in the thousands); use --mask-size 32 or less, "
            "the mask is subsampled to it"
        )
    if max_frames < 2:
        raise CommandError(f"--max-frames {max_frames}: need at least 2 (the empty start and the end)")
    if cls.is_video:
        frames = 2 if num_frames is None else num_frames
        if frames < 2:
            raise CommandError(f"--num-frames {frames}: {scheme} is a video scheme; give 2 or more frames")
    else:
        if num_frames not in (None, 1):
            raise CommandError(
                f"--num-frames {num_frames}: {scheme} tokenizes single images; video schemes are 3d-c, 3d-f, "
                "tac and ltac"
            )
        frames = 1
    mask, instances, names, source = load_tokenize_input(
        mask_path,
        scheme=scheme,
        mask_size=mask_size,
        num_frames=frames,
        instances_path=instances_path,
        classes_path=classes_path,
        seed=seed,
    )
    where = str(source) if source is not None else "the synthetic example"
    top = int(mask.max()) if mask.size else 0
    if num_classes is None:
        classes = max(1, top)
    else:
        classes = num_classes
        if top > classes:
            raise CommandError(f"{where}: holds class {top}, above --num-classes {classes}")
    if scheme == "binary" and classes > 1:
        raise CommandError(
            f"{where}: holds classes up to {top}; the binary scheme takes 0/1 masks: use --scheme lac (or "
            "multiclass), or a mask with one foreground class"
        )
    options: dict[str, object] = {"num_classes": classes}
    h, w = mask.shape[-2:]
    options["mask_size"] = h if h == w else (h, w)
    if cls.is_video:
        options["num_frames"] = frames
    if order is not None:
        options["order"] = order
    if starts is not None:
        options["starts"] = starts
    try:
        tok = create_tokenizer(scheme, **options)
    except ValueError as err:
        raise CommandError(f"--scheme {scheme}: {err}") from None
    try:
        return tokenize_animation(
            tok, mask, out, instances=instances, class_names=names, max_frames=max_frames, fps=fps
        )
    except ValueError as err:
        raise CommandError(f"{where}: {err}") from None


def curves(path: Path, out: Path | None = None) -> Path:
    """``rleseg viz curves``: plot a run's metrics (run folder, its logs/ or a metrics.csv) into ``out``
    (default: ``<run folder>/curves.png``, or ``curves.png`` beside a CSV named directly)."""
    from rleseg.report.curves import plot_training_curves

    if out is None:
        if path.is_file():
            out = (path.parent.parent if path.parent.name == "logs" else path.parent) / "curves.png"
        else:
            out = (path.parent if path.name == "logs" else path) / "curves.png"
    if out.suffix.lower() != ".png":
        raise CommandError(f"--out {out}: expected a .png file name")
    try:
        return plot_training_curves(path, out)
    except ValueError as err:
        raise CommandError(str(err)) from None
