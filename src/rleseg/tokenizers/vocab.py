"""The vocabulary: one frozen object of named, contiguous, non-overlapping token ranges.

Every tokenizer lays its vocabulary out as a list of ``(name, size)`` pairs; the ranges are packed one
after the other from token 0 in that order. The first three are always the special tokens ``pad`` (0),
``eos`` (1) and ``prompt`` (2, the task prompt that starts a decoder input).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PAD = 0
EOS = 1
PROMPT = 2
SPECIAL_RANGES: tuple[tuple[str, int], ...] = (("pad", 1), ("eos", 1), ("prompt", 1))
NUM_SPECIAL = len(SPECIAL_RANGES)


@dataclass(frozen=True)
class TokenRange:
    """A named block of ``size`` consecutive token ids starting at ``start``."""

    name: str
    start: int
    size: int

    @property
    def stop(self) -> int:
        """One past the last token id of the range."""
        return self.start + self.size

    def contains(self, tokens: np.ndarray | int) -> np.ndarray | bool:
        """Whether each token lies in this range; same shape as ``tokens``."""
        return (tokens >= self.start) & (tokens < self.stop)

    def token(self, index: np.ndarray | int) -> np.ndarray | int:
        """Token id(s) of 0-based position(s) ``index`` inside the range (no bounds check)."""
        return index + self.start

    def index(self, tokens: np.ndarray | int) -> np.ndarray | int:
        """0-based position(s) of token id(s) inside the range (no bounds check)."""
        return tokens - self.start


class Vocab:
    """Frozen, ordered collection of non-overlapping :class:`TokenRange` s covering ``[0, size)``.

    >>> v = Vocab([("starts", 6400), ("lac", 160)])
    >>> v["starts"].start, v.size
    (3, 6563)
    """

    __slots__ = ("_ranges", "_by_name", "_starts")

    def __init__(self, layout: Sequence[tuple[str, int]], *, with_specials: bool = True) -> None:
        entries = list(SPECIAL_RANGES) + list(layout) if with_specials else list(layout)
        ranges: list[TokenRange] = []
        names: set[str] = set()
        offset = 0
        for name, size in entries:
            if not isinstance(name, str) or not name:
                raise ValueError(f"vocabulary range names must be non-empty strings, got {name!r}")
            if name in names:
                raise ValueError(f"vocabulary range {name!r} appears twice in {entries}")
            if int(size) != size or size < 1:
                raise ValueError(f"vocabulary range {name!r} must have a positive integer size, got {size!r}")
            names.add(name)
            ranges.append(TokenRange(name, offset, int(size)))
            offset += int(size)
        self._check(ranges)
        self._ranges = tuple(ranges)
        self._by_name = {r.name: r for r in ranges}
        self._starts = np.array([r.start for r in ranges], dtype=np.int64)

    @staticmethod
    def _check(ranges: Sequence[TokenRange]) -> None:
        """Ranges must tile ``[0, size)`` without gaps or overlaps."""
        expected = 0
        for r in ranges:
            if r.start != expected:
                raise ValueError(f"vocabulary range {r.name!r} starts at {r.start}, expected {expected}")
            expected = r.stop

    def __getitem__(self, name: str) -> TokenRange:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no vocabulary range {name!r}; ranges are {list(self._by_name)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[TokenRange]:
        return iter(self._ranges)

    def __len__(self) -> int:
        return len(self._ranges)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self._ranges == other._ranges

    def __hash__(self) -> int:
        return hash(self._ranges)

    def __repr__(self) -> str:
        inner = ", ".join(f"{r.name}[{r.start}:{r.stop}]" for r in self._ranges)
        return f"Vocab(size={self.size}; {inner})"

    @property
    def size(self) -> int:
        """Total number of token ids, special tokens included."""
        return self._ranges[-1].stop if self._ranges else 0

    @property
    def num_special(self) -> int:
        """How many special tokens (pad, eos, prompt) the vocabulary holds."""
        return sum(r.size for r in self._ranges if r.name in ("pad", "eos", "prompt"))

    @property
    def size_without_specials(self) -> int:
        """Vocabulary size as the paper's appendix tables count it (no special tokens)."""
        return self.size - self.num_special

    @property
    def names(self) -> tuple[str, ...]:
        """Range names in token order."""
        return tuple(r.name for r in self._ranges)

    def range_of(self, tokens: np.ndarray) -> np.ndarray:
        """Index (into ``names``) of the range holding each token; -1 for ids outside the vocabulary.

        ``tokens``: int array of any shape; returns int64 array of the same shape.
        """
        t = np.asarray(tokens, dtype=np.int64)
        idx = np.searchsorted(self._starts, t, side="right") - 1
        idx[(t < 0) | (t >= self.size)] = -1
        return idx

    def to_dict(self) -> dict[str, Any]:
        """Serialisable form: ``{"ranges": [[name, start, size], ...]}``."""
        return {"ranges": [[r.name, r.start, r.size] for r in self._ranges]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocab:
        """Inverse of :meth:`to_dict`; checks that starts are consistent."""
        ranges = d["ranges"]
        vocab = cls([(name, size) for name, _, size in ranges], with_specials=False)
        for (name, start, _), r in zip(ranges, vocab, strict=True):
            if r.start != start:
                raise ValueError(f"vocabulary range {name!r} stored at {start}, recomputed at {r.start}")
        return vocab
