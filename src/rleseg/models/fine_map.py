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


class FrameNeighbours(nn.Module):
    """Each frame's fine grid ``(B, N, D, S_h, S_w)`` with what the clip's other frames show nearby: the other
    frames' features averaged, spread over a ``reach`` x ``reach`` neighbourhood of grid cells (a depthwise
    convolution, starting as a box filter: cells move between frames), projected (1 x 1) and added to the
    frame's own features. The projection starts at 0, so training starts from the model that reads each frame
    alone. (Concatenating own and other features before one projection cost twice the time on a CPU; a
    depthwise 5 x 5 convolution five times a 3 x 3 one.)

    For clip models whose frames keep their own grid (``frame_fusion`` per-frame or separate): a start pointer
    reads its frame's grid, and without this it sees another frame only through the coarse encoder."""

    def __init__(self, frames: int, dim: int, reach: int = 3) -> None:
        super().__init__()
        if frames < 2 or reach < 1 or reach % 2 == 0:
            raise ValueError(f"FrameNeighbours: expected frames >= 2 and an odd reach >= 1, got {frames}, {reach}")
        self.frames = int(frames)
        self.spread = nn.Conv2d(dim, dim, reach, padding=reach // 2, groups=dim, bias=False)
        self.proj = nn.Conv2d(dim, dim, 1)
        with torch.no_grad():
            self.spread.weight.fill_(1.0 / reach**2)
            self.proj.weight.zero_()
            if self.proj.bias is not None:  # built with a bias above; the check is for the type checker
                self.proj.bias.zero_()

    def forward(self, grids: torch.Tensor) -> torch.Tensor:
        """``(B, N, D, S_h, S_w)`` -> ``(B, N, D, S_h, S_w)``; N must be the frames it was built for."""
        b, n, d, h, w = grids.shape
        if n != self.frames:
            raise ValueError(f"clip of {n} frames, but the model mixes {self.frames} frames per fine grid")
        others = (grids.sum(1, keepdim=True) - grids) / (n - 1)  # (B, N, D, S_h, S_w): the other frames' mean
        near = self.proj(self.spread(others.flatten(0, 1)))  # (B*N, D, S_h, S_w)
        return grids + near.view(b, n, d, h, w)
