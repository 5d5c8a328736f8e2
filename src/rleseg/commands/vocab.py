"""``rleseg vocab``: vocabulary sizes by token range for given S, C and N (paper Tables 7-10); no data needed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from rleseg.commands.common import OptionError, fmt_int, stdout
from rleseg.tokenizers.stats import DEFAULT_MAX_VOCAB, vocab_table, write_csv, write_json


def vocab(
    schemes: str | None,
    mask_sizes: Sequence[int],
    num_classes: Sequence[int],
    frames: Sequence[int],
    *,
    max_vocab: int = DEFAULT_MAX_VOCAB,
    out: Path | None = None,
    console: Console | None = None,
) -> list[dict[str, Any]]:
    """Print the vocabulary table of ``schemes`` (comma-separated; None: all registered) for every S, C and N;
    ``out``: also write vocab.csv and vocab.json. Returns the rows. OptionError on an unknown scheme."""
    from rleseg.tokenizers import list_tokenizers

    try:
        rows = vocab_table(
            schemes or ",".join(list_tokenizers()), list(mask_sizes), list(num_classes), list(frames), max_vocab
        )
    except ValueError as err:
        raise OptionError(str(err)) from None
    con = console or stdout()
    con.print(_table(rows, max_vocab))
    if out is not None:
        meta = {"table": "vocabulary sizes (paper Tables 7-10)", "max_vocab": max_vocab}
        written = [write_csv(rows, out / "vocab.csv"), write_json(rows, out / "vocab.json", meta)]
        con.print("wrote " + ", ".join(str(p) for p in written))
    return rows


def _fmt_big(v: int) -> str:
    """Thousands separators; ten million and more in millions (exact values are in the CSV/JSON files)."""
    return f"{v / 1e6:,.1f}M" if v >= 10_000_000 else f"{v:,}"


def _table(rows: list[dict[str, Any]], max_vocab: int) -> Table:
    table = Table(
        title="Vocabulary sizes: V counts starts, lengths and class tokens; add 3 special tokens (pad, eos, "
        "prompt) for the model's vocabulary",
        title_justify="left",
        caption=f"red: V >= {max_vocab:,} (the paper's 32K limit); M = millions",
    )
    for col in ("scheme", "S", "C", "N", "starts", "lengths", "class tokens", "V"):
        table.add_column(col, justify="left" if col == "scheme" else "right", no_wrap=col == "scheme")
    for r in rows:
        cells = [r["scheme"] + (" (bin.)" if r["note"] else ""), *(fmt_int(r[k]) for k in ("S", "C", "N"))]
        cells += [_fmt_big(r[k]) for k in ("starts", "lengths", "class_tokens", "V")]
        table.add_row(*cells, style="red" if r["over_limit"] else None)
    return table
