"""``rleseg viz tokenize`` and ``rleseg viz curves``: options only; the work is in :mod:`rleseg.commands.viz`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from rleseg.cli.app import app, user_errors
from rleseg.commands.common import stdout

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
    with user_errors():
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

    with user_errors():
        path = viz_cmd.curves(run, out)
    stdout().print(f"wrote {escape(str(path))}")
