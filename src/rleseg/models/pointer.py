"""Start tokens tied to image features: a pointer-style start head and feature-aware start inputs.

A plain output head scores the S*S start tokens with one fixed vector each, so the decoder must carry the
whole image layout in its hidden state. :class:`StartPointer` instead scores start ``s`` by the dot product
of the decoder state with the fine feature at the pixel ``s`` names (a pointer network over positions),
added to the head's own start logits, and adds that pixel's feature to a start token's embedding when the
decoder reads it back, so the next token (the run length or class) is written knowing what is there.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from rleseg.models.token_init import start_coordinates, start_frames
from rleseg.tokenizers.base import Tokenizer


def start_cells(tok: Tokenizer, grid: tuple[int, int], per_frame: bool = False) -> torch.Tensor:
    """Row-major cell index on ``grid`` (``(S_h, S_w)``) of the pixel each start token names: ``(n_starts,)``.

    ``per_frame``: cells of N stacked grids, one per frame (index ``frame * S_h * S_w + cell``), for video
    schemes whose starts name a frame (3d-c, 3d-f). Raises ValueError for schemes without 1-D start tokens
    (2-D starts name rows and columns separately) and, with ``per_frame``, for starts that name no frame.
    """
    yx = start_coordinates(tok)
    if yx is None:
        raise ValueError(
            f"pointer starts need a scheme with 1-D start tokens; tokenizer {tok.name!r} "
            f"(starts={getattr(tok, 'starts', None)!r}) has none"
        )
    gh, gw = grid
    rows = np.minimum((yx[0] * gh).astype(np.int64), gh - 1)
    cols = np.minimum((yx[1] * gw).astype(np.int64), gw - 1)
    cells = rows * gw + cols
    if per_frame:
        frames = start_frames(tok)
        if frames is None:
            raise ValueError(
                f"per-frame start cells need a video scheme whose starts name a frame (3d-c, 3d-f); tokenizer "
                f"{tok.name!r} has none (TAC and LTAC name one pixel of all frames: use frame_fusion concat or mean)"
            )
        cells = frames.astype(np.int64) * (gh * gw) + cells
    return torch.from_numpy(cells)


class StartPointer(nn.Module):
    """Start logits and start-input features from fine features ``(B, G, D)`` (G = S_h * S_w cells, or
    N * S_h * S_w with ``per_frame``: one grid per frame, stacked)."""

    def __init__(self, tok: Tokenizer, dim: int, grid: tuple[int, int], per_frame: bool = False) -> None:
        super().__init__()
        r = tok.vocab["starts"]
        self.start, self.stop = int(r.start), int(r.stop)
        cells = start_cells(tok, grid, per_frame)
        self.register_buffer("cells", cells, persistent=False)
        # start i names cell i (row-major starts on the stacked grids): the logits need no reordering
        total = grid[0] * grid[1] * (int(tok.mask_shape[0]) if per_frame else 1)
        self.in_cell_order = len(cells) == total and bool((cells == torch.arange(total)).all())
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.inject = nn.Linear(dim, dim)
        nn.init.zeros_(self.inject.weight)  # starts out as the plain model; learns how much to add
        nn.init.zeros_(self.inject.bias)

    def _cells(self) -> torch.Tensor:
        return self.cells  # type: ignore[return-value]

    def add_logits(self, logits: torch.Tensor, hidden: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        """``logits (B, T, V)`` with ``q(hidden) . key(fine[cell])`` added on the start range; ``hidden``
        ``(B, T, D)`` (after the decoder's final norm), ``fine`` ``(B, G, D)`` features of the G cells.

        The key projection is applied on the query side, ``(q W_k) . f + q . b_k``, the same number: the T
        query rows are far fewer than the G = S * S cells, so training no longer projects (and back-propagates
        through) 1,024 rows per window, and generation keeps no keys beside the fine features."""
        q = self.query(hidden)  # (B, T, D)
        scale = 1.0 / math.sqrt(q.shape[-1])
        q_keyed = q @ self.key.weight.to(q.dtype)  # (B, T, D): W_k^T q, row by row
        pointer = torch.baddbmm(
            (q @ self.key.bias.to(q.dtype))[..., None] * scale,  # (B, T, 1): q . b_k, the same for every cell
            q_keyed,
            fine.transpose(1, 2).to(q.dtype),
            alpha=scale,
        )  # (B, T, G)
        if not self.in_cell_order:
            pointer = pointer[..., self._cells()]  # (B, T, n_starts)
        starts = logits[..., self.start : self.stop] + pointer.to(logits.dtype)
        return torch.cat([logits[..., : self.start], starts, logits[..., self.stop :]], dim=-1)

    def input_features(self, tokens: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        """``(B, T, D)``: the projected fine feature of the cell each start token in ``tokens (B, T)`` names,
        zero for every other token."""
        is_start = (tokens >= self.start) & (tokens < self.stop)
        idx = self._cells()[(tokens - self.start).clamp(0, self.stop - self.start - 1)]  # (B, T)
        feats = torch.gather(fine, 1, idx[..., None].expand(-1, -1, fine.shape[-1]))  # (B, T, D)
        return self.inject(feats) * is_start[..., None].to(feats.dtype)
