"""``rleseg flops``: options only; the work is in :mod:`rleseg.commands.flops`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rleseg.cli.app import app, user_errors


@app.command()
def flops(
    config: Annotated[Path, typer.Argument(help="YAML config (see configs/).", show_default=False)],
    size: Annotated[
        tuple[int, int],
        typer.Option("--size", help="Image height and width, e.g. --size 800 1344.", show_default=False),
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="Dotted overrides, e.g. model.mask2former.encoder_layers=3.", show_default=False),
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the counts to this JSON file.")] = None,
    classes: Annotated[int, typer.Option("--classes", min=1, help="Foreground classes of the model built.")] = 1,
) -> None:
    """GFLOPs of one forward pass at batch 1 per component (backbone, pixel decoder, transformer decoder, total)."""
    from rleseg.commands import flops as flops_cmd

    with user_errors():
        flops_cmd.flops(config, overrides, (size[0], size[1]), json_path, classes)
