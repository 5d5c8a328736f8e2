"""``rleseg stats`` and ``rleseg vocab``: options only; the work is in :mod:`rleseg.commands.stats` / ``vocab``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rleseg.cli.app import DEFAULT_THRESHOLDS_TEXT, app, ints, user_errors


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
    thr = [t for t in ints(thresholds, "--thresholds", allow_none=False) if t is not None]
    image_sizes = ints(image_size, "--image-size")
    patch_sizes = ints(patch_size, "--patch-size")
    mask_sizes = ints(mask_size, "--mask-size")
    ns = [n for n in ints(frames, "--frames", allow_none=False) if n is not None]
    with user_errors():
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

    ss = [s for s in ints(mask_size, "--mask-size", allow_none=False) if s is not None]
    cs = [c for c in ints(num_classes, "--num-classes", allow_none=False) if c is not None]
    ns = [n for n in ints(frames, "--frames", allow_none=False) if n is not None]
    with user_errors():
        vocab_cmd.vocab(schemes, ss, cs, ns, max_vocab=max_vocab, out=out)
