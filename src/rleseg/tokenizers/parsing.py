"""Robust parsing of token bodies into fixed-size run tuples.

A well-formed body is a multiple of the tuple size whose tokens fall in the expected ranges; it is parsed
with one vectorised check. Anything else goes through a small state machine that keeps every complete
tuple, drops partial tuples (``incomplete_run``) and tokens that cannot start one (``unexpected_token``),
and re-synchronises on the next token that can start a run.
"""

from __future__ import annotations

import numpy as np

from rleseg.tokenizers.base import DecodeInfo
from rleseg.tokenizers.vocab import Vocab


def range_ids(vocab: Vocab, names: tuple[str, ...]) -> np.ndarray:
    """Indices (into ``vocab.names``) of the ranges ``names``; ``(k,)`` int64."""
    return np.array([vocab.names.index(n) for n in names], dtype=np.int64)


def parse_tuples(body: np.ndarray, roles: np.ndarray, pattern: np.ndarray, info: DecodeInfo) -> np.ndarray:
    """Complete tuples of ``body`` whose token ranges follow ``pattern``.

    ``body``: ``(T,)`` tokens; ``roles``: ``(T,)`` range index of each token (``Vocab.range_of``);
    ``pattern``: ``(k,)`` expected range index at each tuple position. Returns ``(R, k)`` tokens.
    """
    k = pattern.size
    t = body.size
    if t % k == 0 and np.array_equal(roles.reshape(-1, k), np.broadcast_to(pattern, (t // k, k))):
        return body.reshape(-1, k)
    kept: list[int] = []
    pos = 0  # position inside the tuple being read
    pat = pattern.tolist()
    for token, role in zip(body.tolist(), roles.tolist(), strict=True):
        if role == pat[pos]:
            kept.append(token)
            pos += 1
            if pos == k:
                pos = 0
            continue
        if pos:
            info.drop("incomplete_run", pos)
            del kept[len(kept) - pos :]
        if role == pat[0]:
            kept.append(token)
            pos = 1 if k > 1 else 0
        else:
            info.drop("unexpected_token")
            pos = 0
    if pos:
        info.drop("incomplete_run", pos)
        del kept[len(kept) - pos :]
    return np.array(kept, dtype=np.int64).reshape(-1, k)
