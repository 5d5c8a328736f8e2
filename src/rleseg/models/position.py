"""Fixed sine position encodings: 1-D for token positions, 2-D for image features and start tokens."""

from __future__ import annotations

import math

import torch


def sine_1d(positions: torch.Tensor, dim: int, scale: float = 10000.0) -> torch.Tensor:
    """Sine/cosine encoding of real-valued ``positions (...,)`` -> ``(..., dim)`` (``dim`` even)."""
    if dim % 2:
        raise ValueError(f"sine encodings need an even dimension, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(scale) * torch.arange(half, dtype=torch.float32, device=positions.device) / half)
    angles = positions.float()[..., None] * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def sine_2d(y: torch.Tensor, x: torch.Tensor, dim: int) -> torch.Tensor:
    """2-D encoding of normalised coordinates ``y, x`` in ``[0, 1]`` (same shape ``(...,)``) -> ``(..., dim)``.

    Half of the channels encode ``y``, half ``x``; coordinates are scaled by ``2 pi * 16`` so nearby
    positions on a grid of up to a few hundred cells stay distinguishable.
    """
    if dim % 4:
        raise ValueError(f"2-D sine encodings need a dimension divisible by 4, got {dim}")
    s = 2 * math.pi * 16
    return torch.cat([sine_1d(y * s, dim // 2, 1000.0), sine_1d(x * s, dim // 2, 1000.0)], dim=-1)


def grid_encoding(height: int, width: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """Encodings of the centres of a ``height x width`` grid: ``(height * width, dim)``, row-major."""
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return sine_2d(yy.reshape(-1), xx.reshape(-1), dim)
