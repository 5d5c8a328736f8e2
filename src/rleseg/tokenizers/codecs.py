"""The pieces a run's tokens are made of: its start, its length and its value (class, TAC class or both).

Schemes combine one :class:`StartCodec` (1-D start token, or 2-D line/offset tokens) with one
:class:`ValueCodec` (length only, length + class token, or one Lengths-As-Class token). Each codec knows
its vocabulary ranges, turns run arrays into token columns and back, and says which decoded runs are valid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rleseg.tokenizers.base import check_choice
from rleseg.tokenizers.runs import Flattening
from rleseg.tokenizers.vocab import Vocab


@dataclass(frozen=True)
class StartCodec:
    """Start of a run: one token over all ``n`` positions (``"1d"``) or a (line, offset) pair (``"2d"``).

    2-D coordinates share one ``coords`` range of ``max(num_lines, line_len)`` tokens, so a square
    ``S x S`` mask needs ``S`` coordinate tokens (the paper's count) instead of ``S^2`` start tokens.
    """

    flattening: Flattening
    mode: str = "1d"

    def __post_init__(self) -> None:
        check_choice("starts", self.mode, ("1d", "2d"))

    @property
    def width(self) -> int:
        """Tokens per start: 1 or 2."""
        return 1 if self.mode == "1d" else 2

    @property
    def range_names(self) -> tuple[str, ...]:
        """Range of each start token, in order."""
        return ("starts",) if self.mode == "1d" else ("coords", "coords")

    def layout(self) -> list[tuple[str, int]]:
        """Vocabulary ranges this codec needs."""
        f = self.flattening
        if self.mode == "1d":
            return [("starts", f.size)]
        return [("coords", max(f.num_lines, f.line_len))]

    def encode(self, starts: np.ndarray, vocab: Vocab) -> np.ndarray:
        """Flat starts ``(R,)`` -> tokens ``(R, width)``."""
        if self.mode == "1d":
            return (starts + vocab["starts"].start)[:, None]
        line, offset = np.divmod(starts, self.flattening.line_len)
        base = vocab["coords"].start
        return np.stack([line + base, offset + base], axis=1)

    def decode(self, cols: np.ndarray, vocab: Vocab) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tokens ``(R, width)`` -> ``(flat starts, offsets in line, valid)``, each ``(R,)``."""
        f = self.flattening
        if self.mode == "1d":
            starts = cols[:, 0] - vocab["starts"].start
            return starts, starts % f.line_len, np.ones(starts.shape, dtype=np.bool_)
        base = vocab["coords"].start
        line, offset = cols[:, 0] - base, cols[:, 1] - base
        valid = (line < f.num_lines) & (offset < f.line_len)
        return line * f.line_len + offset, offset, valid


@dataclass(frozen=True)
class ValueCodec:
    """Length and value of a run.

    ``mode``: ``"length"`` (binary: one length token; every value is 1), ``"class"`` (a length token then
    a value token from range ``value_range``) or ``"lac"`` (one token = (value - 1) * line_len + length - 1
    from range ``value_range``). ``num_values`` is the largest value (C, or (C+1)^N - 1 for TAC).
    """

    mode: str
    line_len: int
    num_values: int
    value_range: str = "classes"

    def __post_init__(self) -> None:
        check_choice("value mode", self.mode, ("length", "class", "lac"))

    @property
    def width(self) -> int:
        """Tokens per run for the length and value."""
        return 2 if self.mode == "class" else 1

    @property
    def range_names(self) -> tuple[str, ...]:
        """Range of each token, in order."""
        if self.mode == "length":
            return ("lengths",)
        if self.mode == "class":
            return ("lengths", self.value_range)
        return (self.value_range,)

    def layout(self) -> list[tuple[str, int]]:
        """Vocabulary ranges this codec needs."""
        if self.mode == "length":
            return [("lengths", self.line_len)]
        if self.mode == "class":
            return [("lengths", self.line_len), (self.value_range, self.num_values)]
        return [(self.value_range, self.line_len * self.num_values)]

    def encode(self, lengths: np.ndarray, values: np.ndarray, vocab: Vocab) -> np.ndarray:
        """``(R,)`` lengths and values -> tokens ``(R, width)``."""
        if self.mode == "length":
            return (lengths - 1 + vocab["lengths"].start)[:, None]
        if self.mode == "class":
            return np.stack([lengths - 1 + vocab["lengths"].start, values - 1 + vocab[self.value_range].start], axis=1)
        return ((values - 1) * self.line_len + lengths - 1 + vocab[self.value_range].start)[:, None]

    def decode(self, cols: np.ndarray, vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
        """Tokens ``(R, width)`` -> ``(lengths, values)``, each ``(R,)``; ranges guarantee validity."""
        if self.mode == "length":
            lengths = cols[:, 0] - vocab["lengths"].start + 1
            return lengths, np.ones_like(lengths)
        if self.mode == "class":
            return cols[:, 0] - vocab["lengths"].start + 1, cols[:, 1] - vocab[self.value_range].start + 1
        idx = cols[:, 0] - vocab[self.value_range].start
        values, lengths = np.divmod(idx, self.line_len)
        return lengths + 1, values + 1
