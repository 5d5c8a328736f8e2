"""``rleseg train / predict / evaluate / compare / demo``: options only; the work is in :mod:`rleseg.commands`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rleseg.cli.app import app, user_errors

EARLIEST_START_HELP = (
    "when the likeliest token is a start, write the earliest start at least F times as likely instead (fewer "
    "skipped objects; 0: off; default: the config's generation.earliest_start)."
)


def earliest_start_option(scope: str) -> Any:
    """The ``--earliest-start F`` option (0 to 1) of a command, its help starting with ``scope``."""
    return typer.Option(
        "--earliest-start", min=0.0, max=1.0, help=f"{scope}: {EARLIEST_START_HELP}", show_default=False
    )


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

    with user_errors():
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
            help="How overlapping windows merge: vote, fg-vote (foreground where at least half the windows say "
            "so), latest, max, min or average (of class probabilities). Default: the model family's (average for "
            "per-pixel models, fg-vote for token models).",
            show_default=False,
        ),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:1 ...")] = "cpu",
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            min=1,
            help="Windows per forward pass, across images and frames. Default: 256 frames for token models, "
            "8 for per-pixel models.",
            show_default=False,
        ),
    ] = None,
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
    views: Annotated[
        int | None,
        typer.Option(
            "--views",
            help="Test-time views per window: 1, 2, 4 or 8 flips and quarter turns, merged like overlapping "
            "windows; each costs one more prediction of every window (default: the config's data.eval_views).",
            show_default=False,
        ),
    ] = None,
    earliest_start: Annotated[float | None, earliest_start_option("Token models")] = None,
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

    with user_errors():
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
            views=views,
            earliest_start=earliest_start,
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
            help="CKPT form: how overlapping windows merge: vote, fg-vote, latest, max, min or average (default: "
            "the model family's).",
            show_default=False,
        ),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="CKPT form: cpu, cuda, cuda:1 ...")] = "cpu",
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            min=1,
            help="CKPT form: windows per forward pass. Default: 256 frames for token models, 8 for per-pixel models.",
            show_default=False,
        ),
    ] = None,
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
    views: Annotated[
        int | None,
        typer.Option(
            "--views",
            help="CKPT form: test-time views per window: 1, 2, 4 or 8 flips and quarter turns, merged like overlapping "
            "windows; each costs one more prediction of every window (default: the config's data.eval_views).",
            show_default=False,
        ),
    ] = None,
    earliest_start: Annotated[float | None, earliest_start_option("CKPT form, token models")] = None,
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
        with user_errors():
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
                views=views,
                earliest_start=earliest_start,
            )
        raise typer.Exit(1 if done.problems else 0)
    for value, option in ((pred, "--pred"), (gt, "--gt"), (out, "--out")):
        if value is None:
            raise typer.BadParameter("required to evaluate masks on disk", param_hint=option)
    assert pred is not None and gt is not None and out is not None
    with user_errors():
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
    seeds: Annotated[
        int,
        typer.Option(
            "--seeds",
            min=1,
            help="K > 1: compare K times (OUT/seed-<k>/, each config's train.seed + k) and write every model's "
            "mean and spread over the seeds to OUT/seeds.json and OUT/seeds.png.",
        ),
    ] = 1,
) -> None:
    """Train configs (or take checkpoints) on one dataset under one budget, evaluate all on one split, and
    write OUT/comparison.json, OUT/comparison.html and a table with relative changes (paper Table 2); with
    --seeds K, that K times and the mean and spread per model. Exit status 1 when any sample could not be scored."""
    from rleseg.commands import compare as compare_cmd
    from rleseg.commands.compare_seeds import compare_seeds

    options: dict[str, Any] = {
        "names": names,
        "overrides": overrides or [],
        "minutes": minutes,
        "split": split,
        "reference": reference,
        "device": device,
        "images": images,
        "overwrite": overwrite,
    }
    with user_errors():
        if seeds > 1:
            done: Any = compare_seeds(inputs, data, out, seeds=seeds, **options)
        else:
            done = compare_cmd.compare(inputs, data, out, **options)
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
        with user_errors():
            demo_video.run(
                target,
                config=config,
                overrides=extra,
                minutes=minutes,
                device=device,
                compare_static=compare_static,
            )
        return
    with user_errors():
        demo_run.run(out, config=config, overrides=extra, minutes=minutes, device=device)
