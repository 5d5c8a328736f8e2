"""The ``rleseg`` typer app and what its command modules share: error reporting and option parsing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.markup import escape

from rleseg.commands.common import CommandError, OptionError, stderr

app = typer.Typer(
    name="rleseg",
    help="Segmentation as language modelling over run-length-encoded mask tokens.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

DEFAULT_THRESHOLDS_TEXT = "512,1024,1536,2048,3072,4096,5120,6144,7168"


# ----- small helpers ------------------------------------------------------------------------------------
def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with status 1."""
    stderr().print(f"[bold red]error:[/bold red] {escape(message)}")
    raise typer.Exit(1)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an OptionError of the command modules into a usage error (exit status 2), and any other
    CommandError into ``error: message`` and exit status 1."""
    try:
        yield
    except OptionError as err:
        raise typer.BadParameter(str(err), param_hint=err.option) from None
    except CommandError as err:
        fail(str(err))


def ints(text: str | None, option: str, allow_none: bool = True) -> list[int | None]:
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
