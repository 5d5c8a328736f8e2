"""The ``rleseg`` command (typer + rich): this module only parses options; the work lives in :mod:`rleseg.commands`.

``rleseg data synth``      writes the embedded synthetic cells (images or videos) to disk.
``rleseg data check DIR``  validates a dataset and summarises it (sizes, class shares, sequence lengths).
``rleseg train CONFIG``    trains a model from a YAML config with ``key=value`` overrides.
``rleseg predict CKPT IN``  full-size masks, instance masks and colour overlays for images and videos.
``rleseg evaluate CKPT DATA --out DIR`` predicts a dataset, scores it, writes metrics.json and report.html;
                           ``--pred DIR --gt DIR`` scores masks already on disk (PQ with instances).
``rleseg compare A.yaml B.ckpt --data DIR --out OUT`` trains configs / takes checkpoints, evaluates all on one
                           split: comparison.json, comparison.html and a table of relative changes (Table 2).
``rleseg demo``            trains on synthetic cells, evaluates on held-out images, writes results/demo;
                           ``--video``: a video model on synthetic cell videos (results/demo-video);
                           ``--tokenizers``: tokenizes synthetic masks with every scheme, checks the round trip.
``rleseg stats MASKS...``  sequence-length statistics (paper Tables 3-6) and the metric loss caused by
                           subsampling (Table 11) over PNG label masks, printed and written as CSV + JSON.
``rleseg vocab``           vocabulary sizes by token range for given S, C, N (Tables 7-10); no data needed.
``rleseg viz tokenize``    animated GIF + PNG strip of a mask tokenized run by run, for any scheme.
``rleseg viz curves RUN``  loss, token accuracy and validation metrics of a training run, as a PNG.

Run ``rleseg COMMAND --help`` for the options; ``python -m rleseg`` works too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from rleseg.commands.common import CommandError, OptionError, stderr, stdout

app = typer.Typer(
    name="rleseg",
    help="Segmentation as language modelling over run-length-encoded mask tokens.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

DEFAULT_THRESHOLDS_TEXT = "512,1024,1536,2048,3072,4096,5120,6144,7168"


# ----- small helpers ------------------------------------------------------------------------------------
def _fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with status 1."""
    stderr().print(f"[bold red]error:[/bold red] {escape(message)}")
    raise typer.Exit(1)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn an OptionError of the command modules into a usage error (exit status 2), and any other
    CommandError into ``error: message`` and exit status 1."""
    try:
        yield
    except OptionError as err:
        raise typer.BadParameter(str(err), param_hint=err.option) from None
    except CommandError as err:
        _fail(str(err))


def _ints(text: str | None, option: str, allow_none: bool = True) -> list[int | None]:
    """``"640,320"`` -> ``[640, 320]``; None or "" -> ``[None]``. BadParameter on anything else."""
    if text is None or not text.strip():
        if allow_none:
            return [None]
        raise typer.BadParameter("give at least one value", param_hint=option)
    out: list[int | None] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or int(part) < 1:
            raise typer.BadParameter(
                f"{part!r} is not a positive integer (expected e.g. 640 or 640,320)", param_hint=option
            )
        out.append(int(part))
    return out


# ----- rleseg stats -------------------------------------------------------------------------------------
@app.command()
def stats(
    masks: Annotated[
        list[Path],
        typer.Argument(
            help="PNG label masks (0 = background, 1..C classes), or folders of them. With a video scheme: "
            "folders of frame PNGs (one video each), or folders of such folders.",
            show_default=False,
        ),
    ],
    schemes: Annotated[
        str,
        typer.Option(
            "--schemes",
            "-s",
            help="Comma-separated schemes (see `rleseg vocab`); options as name:key=value, "
            "e.g. 3d-c:classes=lac, tac:binary.",
        ),
    ] = "binary,lac,multiclass",
    image_size: Annotated[
        str | None,
        typer.Option(
            "--image-size",
            "-I",
            "--I",
            help="I: resize masks to IxI first (comma list for several) (default: keep the size).",
        ),
    ] = None,
    patch_size: Annotated[
        str | None,
        typer.Option(
            "--patch-size",
            "-P",
            "--P",
            help="P: non-overlapping PxP windows (default: the whole resized mask).",
        ),
    ] = None,
    mask_size: Annotated[
        str | None,
        typer.Option(
            "--mask-size",
            "-S",
            "--S",
            help="S: subsample windows to SxS (factor P/S) (default: no subsampling).",
        ),
    ] = None,
    frames: Annotated[
        str, typer.Option("--frames", "-N", "--N", help="N: frames per clip for video schemes (comma list).")
    ] = "2",
    frame_stride: Annotated[
        int | None, typer.Option("--frame-stride", min=1, help="Stride between clips (default: N).")
    ] = None,
    num_classes: Annotated[
        int | None,
        typer.Option(
            "--num-classes",
            "-C",
            "--C",
            min=1,
            help="C: foreground classes; a larger id in a mask is an error (default: the largest id seen).",
        ),
    ] = None,
    binarize: Annotated[
        bool, typer.Option("--binarize", help="Treat every non-zero pixel as class 1 (e.g. 0/255 masks).")
    ] = False,
    keep_aspect: Annotated[
        bool, typer.Option("--keep-aspect", help="Resize the longer side to I instead of to IxI.")
    ] = False,
    thresholds: Annotated[str, typer.Option("--thresholds", help="Length thresholds (comma list).")] = (
        DEFAULT_THRESHOLDS_TEXT
    ),
    count_eos: Annotated[
        bool, typer.Option("--count-eos", help="Count the EOS token in lengths (the paper does not).")
    ] = False,
    loss: Annotated[
        bool,
        typer.Option("--loss/--no-loss", help="Also measure the metric loss from subsampling (Table 11)."),
    ] = True,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for lengths.csv/.json and subsampling.csv/.json."),
    ] = None,
) -> None:
    """Sequence lengths of tokenized masks (paper Tables 3-6) and the subsampling metric loss (Table 11)."""
    from rleseg.commands import stats as stats_cmd
    from rleseg.tokenizers.stats import parse_schemes

    try:
        specs = parse_schemes(schemes)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--schemes") from None
    if any(spec.instance_aware for spec in specs):
        raise typer.BadParameter(
            "iw needs instance masks, which `rleseg stats` does not read; use the Python API "
            "(rleseg.tokenizers.stats.LengthStats with (mask, instances) pairs)",
            param_hint="--schemes",
        )
    thr = [t for t in _ints(thresholds, "--thresholds", allow_none=False) if t is not None]
    image_sizes = _ints(image_size, "--image-size")
    patch_sizes = _ints(patch_size, "--patch-size")
    mask_sizes = _ints(mask_size, "--mask-size")
    ns = [n for n in _ints(frames, "--frames", allow_none=False) if n is not None]
    with _user_errors():
        stats_cmd.stats(
            masks,
            specs,
            image_sizes=image_sizes,
            patch_sizes=patch_sizes,
            mask_sizes=mask_sizes,
            frames=ns,
            frame_stride=frame_stride,
            num_classes=num_classes,
            binarize=binarize,
            keep_aspect=keep_aspect,
            thresholds=thr,
            count_eos=count_eos,
            loss=loss,
            out=out,
        )


# ----- rleseg vocab -------------------------------------------------------------------------------------
@app.command()
def vocab(
    mask_size: Annotated[
        str, typer.Option("--mask-size", "-S", "--S", help="S: mask size (comma list for several).")
    ] = "80",
    num_classes: Annotated[
        str, typer.Option("--num-classes", "-C", "--C", help="C: foreground classes (comma list).")
    ] = "1,2",
    frames: Annotated[
        str, typer.Option("--frames", "-N", "--N", help="N: frames, for video schemes (comma list).")
    ] = "2",
    schemes: Annotated[
        str | None, typer.Option("--schemes", "-s", help="Comma-separated schemes (default: all registered).")
    ] = None,
    max_vocab: Annotated[int, typer.Option("--max-vocab", min=1, help="Flag vocabularies with V >= this.")] = 32_000,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for vocab.csv and vocab.json.")] = None,
) -> None:
    """Vocabulary sizes by token range for given S, C and N, like the paper's Tables 7-10 (no data needed)."""
    from rleseg.commands import vocab as vocab_cmd

    ss = [s for s in _ints(mask_size, "--mask-size", allow_none=False) if s is not None]
    cs = [c for c in _ints(num_classes, "--num-classes", allow_none=False) if c is not None]
    ns = [n for n in _ints(frames, "--frames", allow_none=False) if n is not None]
    with _user_errors():
        vocab_cmd.vocab(schemes, ss, cs, ns, max_vocab=max_vocab, out=out)


# ----- rleseg data synth / data check -------------------------------------------------------------------
data_app = typer.Typer(
    help="Write the synthetic datasets to disk, and validate datasets.", no_args_is_help=True, add_completion=False
)
app.add_typer(data_app, name="data")


@data_app.command("synth")
def data_synth(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write train/, val/, test/ into.", show_default=False)
    ],
    kind: Annotated[str, typer.Option("--kind", help="cells (images) or cells-video (folders of frames).")] = "cells",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the whole dataset.")] = 0,
    size: Annotated[
        int | None, typer.Option("--size", min=16, help="Image side in pixels (default 320; videos 160).")
    ] = None,
    counts: Annotated[
        str | None,
        typer.Option("--counts", help="Per split: train,val,test (default 48,12,12; videos 12,4,4)."),
    ] = None,
    frames: Annotated[int, typer.Option("--frames", min=1, help="Frames per video (cells-video).")] = 8,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the splits of a non-empty --out.")] = False,
) -> None:
    """Write the embedded synthetic cells dataset (classes ipsc, dfc) in the folder layout."""
    from rleseg.commands import data as data_cmd

    parsed = None if counts is None else [c for c in _ints(counts, "--counts", allow_none=False) if c is not None]
    with _user_errors():
        data_cmd.synth(kind, out, seed=seed, size=size, counts=parsed, frames=frames, overwrite=overwrite)


@data_app.command("check")
def data_check(
    path: Annotated[Path, typer.Argument(help="Dataset folder (any format rleseg reads).", show_default=False)],
    fmt: Annotated[
        str, typer.Option("--format", help="auto, folder, video-folder, coco-panoptic or cityscapes.")
    ] = "auto",
    split: Annotated[
        str, typer.Option("--split", help="Split to check (a folder that is itself one split works too).")
    ] = "train",
    scheme: Annotated[str, typer.Option("--scheme", "-s", help="Scheme for the sequence lengths.")] = "lac",
    mask_size: Annotated[int, typer.Option("--mask-size", "-S", min=1, help="S: windows subsampled to SxS.")] = 80,
    patch_size: Annotated[
        int, typer.Option("--patch-size", "-P", min=0, help="P: PxP windows (0: the whole image).")
    ] = 640,
    image_size: Annotated[
        int | None, typer.Option("--image-size", "-I", min=1, help="I: resize to IxI first (default: keep).")
    ] = None,
    frames: Annotated[int, typer.Option("--frames", "-N", min=1, help="N: clip length for video schemes.")] = 2,
) -> None:
    """Validate a dataset: every problem (one line each, naming the file) and a summary. Exit 1 on problems."""
    from rleseg.commands import data as data_cmd

    with _user_errors():
        summary = data_cmd.check(
            path,
            fmt=fmt,
            split=split or None,
            scheme=scheme,
            mask_size=mask_size,
            patch_size=patch_size or None,
            image_size=image_size,
            frames=frames,
        )
    raise typer.Exit(1 if summary.problems else 0)


# ----- rleseg train -------------------------------------------------------------------------------------
@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="YAML config (see configs/).", show_default=False)],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="Dotted overrides, e.g. train.max_epochs=5 data.batch_size=4.", show_default=False),
    ] = None,
    resume: Annotated[
        Path | None, typer.Option("--resume", help="Checkpoint to continue from (sets train.resume).")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Delete checkpoints already in train.out_dir and start again.")
    ] = False,
) -> None:
    """Train a model: config + overrides, saved as <train.out_dir>/config.yaml; checkpoints and logs beside it."""
    from rleseg.commands import train as train_cmd

    with _user_errors():
        train_cmd.train(config, overrides, resume=resume, overwrite=overwrite)


# ----- rleseg predict -----------------------------------------------------------------------------------
@app.command()
def predict(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint written by rleseg train.", show_default=False)],
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Images (png, jpg, tif), video files (mp4, avi, mov, mkv, webm, gif ...), folders of images "
            "or of frames, folders of videos (sub-folders of frames or video files).",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for masks/, instances/ and overlays/.")],
    stride: Annotated[
        int | None, typer.Option("--stride", min=1, help="Window stride in pixels (default: the config's).")
    ] = None,
    merge: Annotated[
        str | None,
        typer.Option(
            "--merge",
            help="How overlapping windows merge: vote, latest, max, min or average (of class probabilities). "
            "Default: the model family's (average for per-pixel models, vote for token models).",
            show_default=False,
        ),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:1 ...")] = "cpu",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Windows per forward pass.")] = 8,
    frame_stride: Annotated[
        int | None,
        typer.Option(
            "--frame-stride",
            min=1,
            help="Video models: T, frames between clip starts (1..N; default: config's, else N).",
        ),
    ] = None,
    cleanup: Annotated[
        int | None,
        typer.Option(
            "--cleanup",
            min=0,
            help="Close background gaps of up to N pixels inside runs of one class (default: config's, 0: off).",
        ),
    ] = None,
    video: Annotated[
        bool, typer.Option("--video", help="A folder of images is one video also for an image model.")
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace existing outputs (a video's frame folders are replaced whole)."),
    ] = False,
) -> None:
    """Predict full-size masks: masks/ (class ids), instances/ (iw models) and overlays/ PNGs.

    \b
    Inputs:
      image file            one image: masks/X.png
      video file            one video: masks/X/000000.png ... and a preview overlays/X.gif
      folder of images      (or with an images/ sub-folder) a set of images for an image model;
                            one video (the images are its frames, natural order) for a video model or --video
      folder of videos      sub-folders of frames and video files: masks/<video>/<frame>.png ...
    A video model predicts clips of N frames every --frame-stride frames and refuses single images; an image
    model predicts every frame of a video on its own.
    """
    from rleseg.commands import predict as predict_cmd

    with _user_errors():
        predict_cmd.predict(
            checkpoint,
            inputs,
            out,
            stride=stride,
            merge=merge,
            device=device,
            batch_size=batch_size,
            frame_stride=frame_stride,
            cleanup=cleanup,
            video=video,
            overwrite=overwrite,
        )


# ----- rleseg evaluate ----------------------------------------------------------------------------------
@app.command()
def evaluate(
    checkpoint: Annotated[
        Path | None,
        typer.Argument(metavar="CKPT", help="Checkpoint to predict DATA with, then score.", show_default=False),
    ] = None,
    data: Annotated[
        str | None,
        typer.Argument(
            metavar="DATA",
            help="Dataset folder (any format), COCO panoptic .json, or synthetic-cells[-video].",
            show_default=False,
        ),
    ] = None,
    pred: Annotated[
        Path | None, typer.Option("--pred", help="Predictions: DIR/masks/<name>.png [DIR/instances/<name>.png].")
    ] = None,
    gt: Annotated[
        Path | None, typer.Option("--gt", help="Ground truth in the folder layout (masks/, instances/, classes.txt).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for metrics.json and report.html.")] = None,
    classes: Annotated[
        Path | None,
        typer.Option("--classes", help="classes.txt, background first (default: --gt's, else numbered)."),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option("--split", help="CKPT form: split of DATA (default: test/ if there, else all of DATA)."),
    ] = None,
    stride: Annotated[
        int | None, typer.Option("--stride", min=1, help="CKPT form: window stride in pixels (default: config's).")
    ] = None,
    merge: Annotated[
        str | None,
        typer.Option(
            "--merge",
            help="CKPT form: how overlapping windows merge: vote, latest, max, min or average (default: the "
            "model family's).",
            show_default=False,
        ),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="CKPT form: cpu, cuda, cuda:1 ...")] = "cpu",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="CKPT form: windows per forward pass.")] = 8,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="CKPT form: evaluate only the first N samples.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="CKPT form: replace an earlier evaluation in --out.")
    ] = False,
    overlays: Annotated[
        bool,
        typer.Option(
            "--overlays", help="CKPT form: also write overlays/ (image | truth | prediction PNGs; GIFs for videos)."
        ),
    ] = False,
    frame_stride: Annotated[
        int | None,
        typer.Option("--frame-stride", min=1, help="CKPT form, video models: stride T between clips (default: N)."),
    ] = None,
) -> None:
    """Score a checkpoint on a dataset (CKPT DATA) or masks on disk (--pred --gt): metrics.json and report.html.

    CKPT DATA predicts every image (windows and stitching) into OUT/masks/, scores it (PQ for iw
    checkpoints on data with instances) and adds sequence-length statistics. --pred --gt scores masks on
    disk (PQ when both have instances/). Every bad input is reported on one line and left out; the rest
    is scored. Exit status 1 on any problem.
    """
    from rleseg.commands import evaluate as evaluate_cmd

    if checkpoint is not None or data is not None:
        from rleseg.commands import evaluate_checkpoint as checkpoint_cmd

        if checkpoint is None or data is None:
            raise typer.BadParameter("give both CKPT and DATA", param_hint="CKPT DATA")
        for value, option in ((pred, "--pred"), (gt, "--gt"), (classes, "--classes")):
            if value is not None:
                raise typer.BadParameter("only for masks on disk (--pred --gt), not with CKPT DATA", param_hint=option)
        if out is None:
            raise typer.BadParameter(
                "required: the folder for masks/, metrics.json and report.html", param_hint="--out"
            )
        with _user_errors():
            done = checkpoint_cmd.evaluate_checkpoint(
                checkpoint,
                data,
                out,
                split=split,
                stride=stride,
                merge=merge,
                device=device,
                batch_size=batch_size,
                limit=limit,
                overwrite=overwrite,
                overlays=overlays,
                frame_stride=frame_stride,
            )
        raise typer.Exit(1 if done.problems else 0)
    for value, option in ((pred, "--pred"), (gt, "--gt"), (out, "--out")):
        if value is None:
            raise typer.BadParameter("required to evaluate masks on disk", param_hint=option)
    assert pred is not None and gt is not None and out is not None
    with _user_errors():
        result = evaluate_cmd.evaluate_folders(pred, gt, out, classes=classes)
    raise typer.Exit(1 if result.problems else 0)


# ----- rleseg compare -----------------------------------------------------------------------------------
@app.command()
def compare(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="CONFIG_OR_CKPT",
            help="YAML configs (trained on --data) and .ckpt checkpoints (evaluated as they are).",
            show_default=False,
        ),
    ],
    data: Annotated[Path, typer.Option("--data", help="Dataset folder (train/val/test splits).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for runs/, eval/, comparison.json and .html.")],
    minutes: Annotated[
        float | None, typer.Option("--minutes", help="Training budget of every config (default: each its own).")
    ] = None,
    split: Annotated[str | None, typer.Option("--split", help="Split to evaluate (default: test/ if there).")] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="Model name relative changes are against (default: first).")
    ] = None,
    names: Annotated[
        list[str] | None, typer.Option("--name", help="A name per input, in order (default: file stems).")
    ] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="key=value override for every config (repeatable).")
    ] = None,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or auto: training and prediction.")] = "cpu",
    images: Annotated[int, typer.Option("--images", min=0, help="Images side by side in the HTML, worst first.")] = 12,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an earlier comparison in --out.")] = False,
) -> None:
    """Train configs (or take checkpoints) on one dataset under one budget, evaluate all on one split, and
    write OUT/comparison.json, OUT/comparison.html and a table with relative changes (paper Table 2).
    Exit status 1 when any sample could not be scored."""
    from rleseg.commands import compare as compare_cmd

    with _user_errors():
        done = compare_cmd.compare(
            inputs,
            data,
            out,
            names=names,
            overrides=overrides or [],
            minutes=minutes,
            split=split,
            reference=reference,
            device=device,
            images=images,
            overwrite=overwrite,
        )
    raise typer.Exit(1 if done.problems else 0)


# ----- rleseg demo --------------------------------------------------------------------------------------
@app.command()
def demo(
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="Dotted config overrides, e.g. train.max_epochs=5.", show_default=False),
    ] = None,
    tokenizers: Annotated[
        bool,
        typer.Option("--tokenizers", help="Only the fast tokenizer round-trip table of every scheme (no training)."),
    ] = False,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Folder for run/, masks/, overlays/, metrics.json (--video: results/demo-video).",
        ),
    ] = Path("results/demo"),
    minutes: Annotated[
        float | None, typer.Option("--minutes", help="Training time budget (default: train.max_time_minutes).")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Config file (default: configs/demo.yaml).")] = None,
    device: Annotated[str, typer.Option("--device", help="Prediction device: auto, cpu, cuda ...")] = "auto",
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed (training: train.seed; --tokenizers: the masks; default 0).")
    ] = None,
    mask_size: Annotated[
        int,
        typer.Option(
            "--mask-size", "-S", min=4, help="S of the --tokenizers table (training: tokenizer.mask_size=...)."
        ),
    ] = 80,
    frames: Annotated[
        int, typer.Option("--frames", "-N", min=1, max=6, help="N: frames per clip in the --tokenizers table.")
    ] = 2,
    video: Annotated[
        bool,
        typer.Option(
            "--video", help="Video model on synthetic cell videos (configs/demo-video.yaml, results/demo-video)."
        ),
    ] = False,
    compare_static: Annotated[
        bool,
        typer.Option(
            "--compare-static",
            help="With --video: also train the image model on the same frames (same budget) and compare.",
        ),
    ] = False,
) -> None:
    """Train on synthetic cells, evaluate on held-out images, write results/demo (--tokenizers: no training).

    --video: a video model on synthetic cell videos, evaluated on held-out videos, written to results/demo-video.
    """
    if tokenizers:
        from rleseg.demo import main as demo_main

        if overrides:
            raise typer.BadParameter("config overrides do not apply to --tokenizers", param_hint="OVERRIDES")
        raise typer.Exit(demo_main(seed=seed or 0, mask_size=mask_size, num_frames=frames))
    from rleseg.commands import demo_run

    extra = list(overrides or []) + ([f"train.seed={seed}"] if seed is not None else [])
    if compare_static and not video:
        raise typer.BadParameter("only applies to the video demo (--video)", param_hint="--compare-static")
    if video:
        from rleseg.commands import demo_video

        target = demo_video.DEFAULT_OUT if out == demo_run.DEFAULT_OUT else out
        with _user_errors():
            demo_video.run(
                target,
                config=config,
                overrides=extra,
                minutes=minutes,
                device=device,
                compare_static=compare_static,
            )
        return
    with _user_errors():
        demo_run.run(out, config=config, overrides=extra, minutes=minutes, device=device)


# ----- rleseg viz tokenize / viz curves -----------------------------------------------------------------
viz_app = typer.Typer(
    help="Pictures: tokenization animations and training curves.", no_args_is_help=True, add_completion=False
)
app.add_typer(viz_app, name="viz")


@viz_app.command("tokenize")
def viz_tokenize(
    mask: Annotated[
        Path | None,
        typer.Argument(
            help="Label PNG of class ids (a folder of frame PNGs for video schemes); none: a synthetic example.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for tokenize-<scheme>.gif and .png.")] = Path(
        "results/viz"
    ),
    synthetic: Annotated[
        bool, typer.Option("--synthetic", help="Use the built-in synthetic cells example (the default without MASK).")
    ] = False,
    scheme: Annotated[str, typer.Option("--scheme", "-s", help="Tokenization scheme (see rleseg vocab).")] = "lac",
    mask_size: Annotated[
        int, typer.Option("--mask-size", "-S", min=1, help="S: the mask is subsampled to SxS (at most 64).")
    ] = 16,
    order: Annotated[str | None, typer.Option("--order", help="Flattening order: row or col.")] = None,
    starts: Annotated[str | None, typer.Option("--starts", help="Start tokens: 1d or 2d.")] = None,
    num_frames: Annotated[
        int | None, typer.Option("--num-frames", "-N", min=1, help="N: frames of video schemes (default 2).")
    ] = None,
    num_classes: Annotated[
        int | None, typer.Option("--num-classes", "-C", min=1, help="C (default: the largest class in the mask).")
    ] = None,
    instances: Annotated[
        Path | None, typer.Option("--instances", help="Instance-id PNG for iw (same size as MASK).")
    ] = None,
    classes: Annotated[
        Path | None, typer.Option("--classes", help="classes.txt (background first) to name the class tokens.")
    ] = None,
    fps: Annotated[float, typer.Option("--fps", min=0.1, max=50.0, help="Animation frames per second.")] = 3.0,
    max_frames: Annotated[
        int, typer.Option("--max-frames", min=2, help="At most this many frames; runs are grouped beyond it.")
    ] = 150,
    seed: Annotated[int, typer.Option("--seed", help="Which synthetic example.")] = 0,
) -> None:
    """Animate a mask being tokenized run by run: OUT/tokenize-<scheme>.gif and a PNG strip of key frames."""
    from rleseg.commands import viz as viz_cmd

    if synthetic and mask is not None:
        raise typer.BadParameter("give MASK or --synthetic, not both", param_hint="--synthetic")
    with _user_errors():
        result = viz_cmd.tokenize(
            mask,
            out,
            scheme=scheme,
            mask_size=mask_size,
            num_frames=num_frames,
            num_classes=num_classes,
            order=order,
            starts=starts,
            instances_path=instances,
            classes_path=classes,
            fps=fps,
            max_frames=max_frames,
            seed=seed,
        )
    trace = result.trace
    stdout().print(
        f"{scheme}: {trace.tokens.size} tokens, {trace.num_runs} runs, {len(result.frames)} frames\n"
        f"wrote {escape(str(result.gif))}\nwrote {escape(str(result.strip))}"
    )


@viz_app.command("curves")
def viz_curves(
    run: Annotated[
        Path, typer.Argument(help="Run folder (train.out_dir), its logs/ folder or a metrics.csv.", show_default=False)
    ],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="PNG to write (default: <run folder>/curves.png).")
    ] = None,
) -> None:
    """Plot a training run's loss, token accuracy, validation metrics and learning rate."""
    from rleseg.commands import viz as viz_cmd

    with _user_errors():
        path = viz_cmd.curves(run, out)
    stdout().print(f"wrote {escape(str(path))}")


def main() -> None:
    """Console entry point ``rleseg``."""
    app(prog_name="rleseg")


if __name__ == "__main__":
    main()
