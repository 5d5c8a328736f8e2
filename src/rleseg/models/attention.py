"""Multi-head attention on ``scaled_dot_product_attention``, with an optional key/value cache."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head attention. Self-attention when ``context`` is None, cross-attention otherwise.

    ``x``: ``(B, T, D)`` queries; ``context``: ``(B, M, D)`` keys/values source. With ``cache`` (a dict),
    self-attention appends this step's keys and values to it, and cross-attention computes the context's
    keys and values once and reuses them.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"model dimension {dim} is not divisible by {heads} heads")
        self.heads, self.dim, self.dropout = heads, dim, dropout
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        b, n, _ = t.shape
        return t.view(b, n, self.heads, self.dim // self.heads).transpose(1, 2)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        *,
        causal: bool = False,
        cache: dict[str, torch.Tensor] | None = None,
        key_padding: torch.Tensor | None = None,
        bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(B, T, D)`` -> ``(B, T, D)``. ``key_padding``: ``(B, M)`` True where a key must be ignored;
        ``bias``: added to the attention logits, broadcastable to ``(B, heads, T, M)``."""
        q = self._split(self.q(x))
        if context is not None and cache is not None and "k" in cache:
            k, v = cache["k"], cache["v"]
        else:
            k, v = self._split_kv(x if context is None else context)
            if cache is not None and context is None and "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            if cache is not None:
                cache["k"], cache["v"] = k, v
        mask: torch.Tensor | None = None
        if key_padding is not None:
            mask = ~key_padding[:, None, None, :]
        if bias is not None:
            bias = bias.to(q.dtype)
            mask = bias if mask is None else bias.masked_fill(~mask, float("-inf"))
        use_causal = causal and (cache is None or q.shape[2] > 1)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0, is_causal=use_causal
        )
        b, h, t, d = out.shape
        return self.out(out.transpose(1, 2).reshape(b, t, h * d))

    def _split_kv(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.kv(src).chunk(2, dim=-1)
        return self._split(k), self._split(v)
