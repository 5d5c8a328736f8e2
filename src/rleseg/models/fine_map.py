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


class FrameMix(nn.Module):
    """A clip's fine features ``(B, N, D, S_h, S_w)`` -> one grid ``(B, D, S_h, S_w)``: each cell's N feature
    vectors concatenated and projected back to D. Initialised to the mean over frames, so training starts
    from averaged features and learns which frame shows what."""

    def __init__(self, frames: int, dim: int) -> None:
        super().__init__()
        self.frames = int(frames)
        self.proj = nn.Linear(self.frames * dim, dim)
        with torch.no_grad():
            self.proj.weight.copy_(torch.eye(dim).repeat(1, self.frames) / self.frames)
            self.proj.bias.zero_()

    def forward(self, grids: torch.Tensor) -> torch.Tensor:
        """``(B, N, D, S_h, S_w)`` -> ``(B, D, S_h, S_w)``; N must be the frames it was built for."""
        b, n, d, h, w = grids.shape
        if n != self.frames:
            raise ValueError(f"clip of {n} frames, but the model mixes {self.frames} frames per fine grid")
        x = grids.permute(0, 3, 4, 1, 2).reshape(b, h, w, n * d)
        return self.proj(x).permute(0, 3, 1, 2)
