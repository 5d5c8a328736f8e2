"""The work of ``rleseg stats`` and ``rleseg vocab``, called without the CLI: rows back, errors as CommandError."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from rleseg.commands.common import CommandError, OptionError
from rleseg.commands.stats import stats
from rleseg.commands.vocab import vocab
from rleseg.tokenizers.stats import parse_schemes


def _quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def _save(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr.astype(np.uint8)).save(path)
    return path


def test_stats_returns_rows_and_writes_files(tmp_path: Path) -> None:
    _save(tmp_path / "masks" / "a.png", np.array([[0, 1], [1, 1]]))
    _save(tmp_path / "masks" / "b.png", np.array([[0, 0], [2, 0]]))
    result = stats([tmp_path / "masks"], parse_schemes("lac"), out=tmp_path / "out", console=_quiet())
    assert [r["windows"] for r in result.lengths] == [2] and len(result.loss) == 1
    assert [p.name for p in result.written] == ["lengths.csv", "lengths.json", "subsampling.csv", "subsampling.json"]
    assert all(p.exists() for p in result.written)


def test_stats_errors(tmp_path: Path) -> None:
    bad = _save(tmp_path / "bad.png", np.array([[0, 7]]))
    with pytest.raises(CommandError, match="class id 7") as err:
        stats([bad], parse_schemes("lac"), num_classes=2, console=_quiet())
    assert not isinstance(err.value, OptionError)
    with pytest.raises(CommandError, match="no such file"):
        stats([tmp_path / "missing.png"], parse_schemes("lac"), console=_quiet())
    with pytest.raises(OptionError, match="S must be <= P"):
        stats([bad], parse_schemes("lac"), patch_sizes=[80], mask_sizes=[160], console=_quiet())


def test_vocab_rows_and_unknown_scheme(tmp_path: Path) -> None:
    rows = vocab("lac,multiclass", [80], [2], [2], out=tmp_path, console=_quiet())
    assert {r["scheme"]: r["V"] for r in rows} == {"lac": 6560, "multiclass": 6482}  # paper III-C
    assert (tmp_path / "vocab.csv").exists() and (tmp_path / "vocab.json").exists()
    with pytest.raises(OptionError, match="unknown tokenizer"):
        vocab("nope", [80], [2], [2], console=_quiet())
