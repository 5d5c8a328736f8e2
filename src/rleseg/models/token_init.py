"""Structured initial token embeddings: a start token begins life as the position encoding of its pixel.

The encoder memory carries the same 2-D sine encodings, so at initialisation a start token's embedding
(and its output-head row) already points at the image features of the pixel it names. Lengths get a 1-D
encoding of the length; everything else keeps a random embedding. This only sets initial values: all of
them are trained.
"""

from __future__ import annotations

import numpy as np
import torch

from rleseg.models.position import sine_1d, sine_2d
from rleseg.tokenizers.base import Tokenizer


def _start_axes(tok: Tokenizer) -> list[np.ndarray] | None:
    """Per mask axis, the index each 1-D start token names (``(n,)`` each); None without 1-D starts."""
    flat = getattr(tok, "flattening", None)
    if flat is None or "starts" not in tok.vocab:
        return None
    permuted_shape = [flat.shape[a] for a in flat.axes]
    coords_perm = np.unravel_index(np.arange(flat.size), permuted_shape)
    coords: list[np.ndarray] = [np.empty(0)] * len(flat.shape)
    for axis, c in zip(flat.axes, coords_perm, strict=True):
        coords[axis] = np.asarray(c)
    return coords


def start_coordinates(tok: Tokenizer) -> tuple[np.ndarray, np.ndarray] | None:
    """Normalised ``(y, x)`` in ``[0, 1]`` of the pixel each 1-D start token names; ``(n,)`` each.

    For a video flattening the frame index is dropped (:func:`start_frames` has it). None when the scheme has
    no 1-D start tokens.
    """
    coords = _start_axes(tok)
    if coords is None:
        return None
    h, w = tok.flattening.shape[-2], tok.flattening.shape[-1]  # type: ignore[attr-defined]
    return (coords[-2] + 0.5) / h, (coords[-1] + 0.5) / w


def start_frames(tok: Tokenizer) -> np.ndarray | None:
    """Frame index ``(n,)`` each 1-D start token names, for video flattenings whose starts name a frame
    (3d-c, 3d-f); None for images, for schemes without 1-D starts and for TAC / LTAC (one start per pixel of
    all frames)."""
    coords = _start_axes(tok)
    if coords is None or len(coords) != 3:
        return None
    return coords[0]


def structured_embeddings(tok: Tokenizer, dim: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Initial embedding table ``(V, dim)``: sine encodings for starts, coordinates and lengths, N(0, 1) else."""
    table = torch.randn(tok.vocab_size, dim, generator=generator)
    v = tok.vocab
    yx = start_coordinates(tok)
    if yx is not None:
        r = v["starts"]
        table[r.start : r.stop] = sine_2d(torch.from_numpy(yx[0]), torch.from_numpy(yx[1]), dim)
    if "coords" in v:
        r = v["coords"]
        c = (torch.arange(r.size, dtype=torch.float32) + 0.5) / r.size
        table[r.start : r.stop] = sine_1d(c * 2 * np.pi * 16, dim, 1000.0)
    if "lengths" in v:
        r = v["lengths"]
        ln = torch.arange(1, r.size + 1, dtype=torch.float32) / r.size
        table[r.start : r.stop] = 0.5 * table[r.start : r.stop] + sine_1d(ln * 2 * np.pi * 16, dim, 1000.0)
    return table
