"""``rleseg data synth`` and ``rleseg data check``: options only; the work is in :mod:`rleseg.commands.data`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rleseg.cli.app import app, ints, user_errors

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
    motion: Annotated[
        float, typer.Option("--motion", help="Speed factor of the video cells (0.2: about as slow as IPSC cells).")
    ] = 1.0,
    defocus: Annotated[
        float,
        typer.Option("--defocus", help="Chance that a video cell is out of focus in a frame (its contrast 20-45%)."),
    ] = 0.0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the splits of a non-empty --out.")] = False,
) -> None:
    """Write the embedded synthetic cells dataset (classes ipsc, dfc) in the folder layout."""
    from rleseg.commands import data as data_cmd

    parsed = None if counts is None else [c for c in ints(counts, "--counts", allow_none=False) if c is not None]
    with user_errors():
        data_cmd.synth(
            kind,
            out,
            seed=seed,
            size=size,
            counts=parsed,
            frames=frames,
            motion=motion,
            defocus=defocus,
            overwrite=overwrite,
        )


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

    with user_errors():
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
