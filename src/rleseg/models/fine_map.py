"""Fine features on the tokenizer's S x S grid: a finer backbone level fused with the encoder output.

The transformer encoder works on a coarse grid (stride 16 or 32), far coarser than the grid of start tokens
(S x S). :class:`FineMap` brings a finer backbone level (e.g. stride 4) and the encoder's context together on
the S x S grid, one feature vector per start position, for the start pointer
(:class:`~rleseg.models.pointer.StartPointer`) and an optional per-pixel auxiliary loss (``dense_logits``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FineMap(nn.Module):
    """``fine (B, C_f, h_f, w_f)`` + encoder context ``(B, D, h, w)`` -> ``(B, D, S_h, S_w)`` features.

    ``num_classes``: foreground classes C; :meth:`dense_logits` gives ``(B, C + 1, S_h, S_w)``.
    """

    def __init__(self, fine_channels: int, dim: int, grid: tuple[int, int], num_classes: int) -> None:
        super().__init__()
        self.grid = (int(grid[0]), int(grid[1]))
        self.lateral = nn.Conv2d(fine_channels, dim, 1)
        groups = next(g for g in (8, 4, 2, 1) if dim % g == 0)
        self.refine = nn.Sequential(  # a cheap ConvNeXt-style block: depthwise 5x5, norm, pointwise
            nn.Conv2d(dim, dim, 5, padding=2, groups=dim),
            nn.GroupNorm(groups, dim),
            nn.Conv2d(dim, dim, 1),
            nn.GELU(),
            nn.Conv2d(dim, dim, 1),
        )
        self.norm = nn.GroupNorm(groups, dim)
        self.dense_head = nn.Conv2d(dim, num_classes + 1, 1)

    def forward(self, fine: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``fine (B, C_f, h_f, w_f)``, ``context (B, D, h, w)`` -> ``(B, D, S_h, S_w)``."""
        x = self.lateral(fine)
        if tuple(x.shape[-2:]) != self.grid:
            x = F.interpolate(x, size=self.grid, mode="bilinear", align_corners=False)
        x = x + F.interpolate(context, size=self.grid, mode="bilinear", align_corners=False)
        return self.norm(x + self.refine(x))

    def dense_logits(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, D, S_h, S_w)`` -> per-position class logits ``(B, C + 1, S_h, S_w)``."""
        return self.dense_head(features)
