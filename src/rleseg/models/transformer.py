"""Pre-norm transformer encoder and autoregressive decoder layers (attention via SDPA)."""

from __future__ import annotations

import torch
from torch import nn

from rleseg.models.attention import Attention


class FeedForward(nn.Module):
    """``(B, T, D)`` -> ``(B, T, D)``: Linear, GELU, Linear."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class EncoderLayer(nn.Module):
    """Self-attention over image features plus a feed-forward block, with position added to q/k."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.ff = FeedForward(dim, int(dim * mlp_ratio), dropout)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: ``(B, M, D)`` features, ``pos``: ``(M, D)`` or ``(B, M, D)`` encodings -> ``(B, M, D)``;
        ``bias``: added to the attention logits, broadcastable to ``(B, heads, M, M)``."""
        x = x + self.attn(self.norm1(x) + pos, bias=bias)
        return x + self.ff(self.norm2(x))


class DecoderLayer(nn.Module):
    """Causal self-attention over tokens, cross-attention to the encoder memory, feed-forward."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = Attention(dim, heads, dropout)
        self.cross_attn = Attention(dim, heads, dropout)
        self.ff = FeedForward(dim, int(dim * mlp_ratio), dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        *,
        cache: dict[str, dict[str, torch.Tensor]] | None = None,
        cross_bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``x``: ``(B, T, D)`` tokens, ``memory``: ``(B, M, D)`` -> ``(B, T, D)``.

        ``cache`` holds this layer's ``{"self": {...}, "cross": {...}}`` keys and values during generation;
        ``cross_bias`` is added to the cross-attention logits (broadcastable to ``(B, heads, T, M)``).
        """
        x = x + self.self_attn(self.norm1(x), causal=True, cache=None if cache is None else cache["self"])
        cross_cache = None if cache is None else cache["cross"]
        x = x + self.cross_attn(self.norm2(x), memory, cache=cross_cache, bias=cross_bias)
        return x + self.ff(self.norm3(x))
