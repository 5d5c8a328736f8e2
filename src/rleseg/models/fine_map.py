"""Fine features on the tokenizer's S x S grid: a finer backbone level fused with the encoder output.

The transformer encoder works on a coarse grid (stride 16 or 32), far coarser than the grid of start tokens
(S x S). :class:`FineMap` brings a finer backbone level (e.g. stride 4) and the encoder's context together on
the S x S grid, one feature vector per start position: the projected fine level plus the upsampled context,
normalised. (A convolution block on top cost 2x the time per training step on a CPU and bought nothing
measurable.) The features feed the start pointer (:class:`~rleseg.models.pointer.StartPointer`) and an
optional per-pixel auxiliary loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FineMap(nn.Module):
    """``fine (B, C_f, h_f, w_f)`` + encoder context ``(B, D, h, w)`` -> ``(B, D, S_h, S_w)`` features."""

    def __init__(self, fine_channels: int, dim: int, grid: tuple[int, int]) -> None:
        super().__init__()
        self.grid = (int(grid[0]), int(grid[1]))
        self.lateral = nn.Conv2d(fine_channels, dim, 1)
        groups = next(g for g in (8, 4, 2, 1) if dim % g == 0)
        self.norm = nn.GroupNorm(groups, dim)

    def forward(self, fine: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``fine (B, C_f, h_f, w_f)``, ``context (B, D, h, w)`` -> ``(B, D, S_h, S_w)``."""
        x = self.lateral(fine)
        if tuple(x.shape[-2:]) != self.grid:
            x = F.interpolate(x, size=self.grid, mode="bilinear", align_corners=False)
        x = x + F.interpolate(context, size=self.grid, mode="bilinear", align_corners=False)
        return self.norm(x)
