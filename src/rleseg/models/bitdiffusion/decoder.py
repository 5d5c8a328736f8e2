"""The mask decoder of Pix2Seq-D: a small U-Net over the noisy analog bits concatenated with the image
features (and, for video, the previous frames' bits), every residual block modulated by the noise level
gamma (FiLM), with transformer layers at the bottleneck that cross-attend to the encoder's tokens."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rleseg.models.attention import Attention
from rleseg.models.position import grid_encoding, sine_1d
from rleseg.models.transformer import FeedForward


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, max(1, channels // 4)), channels)


class GammaEmbedding(nn.Module):
    """Noise levels ``(B,)`` in ``[0, 1]`` -> ``(B, dim)`` (sine encoding of ``1000 * gamma``, then an MLP)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, gamma: torch.Tensor) -> torch.Tensor:
        return self.mlp(sine_1d(gamma * 1000.0, self.dim))


class FiLMBlock(nn.Module):
    """Residual block ``(B, c_in, h, w)`` -> ``(B, c_out, h, w)``; the embedding ``(B, E)`` scales and shifts
    the features after the second normalisation."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = _norm(c_in), _norm(c_out)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * c_out)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(emb)[..., None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.conv2(F.silu(h)) + self.skip(x)


class CrossBlock(nn.Module):
    """Transformer layer over the bottleneck positions ``(B, T, C)``: self-attention, cross-attention to the
    encoder tokens ``(B, M, C)``, feed-forward (pre-norm; 2-D position encodings added to the queries)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = Attention(dim, heads)
        self.cross_attn = Attention(dim, heads)
        self.ff = FeedForward(dim, 4 * dim)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.norm1(x) + pos)
        x = x + self.cross_attn(self.norm2(x) + pos, memory)
        return x + self.ff(self.norm3(x))


class MaskDecoder(nn.Module):
    """``(x, gamma, tokens)`` -> logits ``(B, out_channels, h, w)``.

    ``x``: ``(B, in_channels, h, w)``, the noisy bits with their conditioning channels; ``gamma``: ``(B,)``;
    ``tokens``: ``(B, M, context_dim)``. Levels of ``dim * mults[i]`` channels, halving the resolution between
    levels; sides that are not a multiple of ``2 ** (len(mults) - 1)`` are padded and cropped back.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        dim: int,
        mults: tuple[int, ...],
        context_dim: int,
        heads: int,
        layers: int,
    ) -> None:
        super().__init__()
        if not mults:
            raise ValueError("model.pix2seq-d.decoder_mults: expected at least one level")
        emb = 4 * dim
        self.gamma_emb = GammaEmbedding(emb)
        widths = [dim * m for m in mults]
        self.conv_in = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        prev = widths[0]
        for i, w in enumerate(widths):
            self.down.append(FiLMBlock(prev, w, emb))
            prev = w
            if i < len(widths) - 1:
                self.downsample.append(nn.Conv2d(w, w, 3, stride=2, padding=1))
        bottleneck = widths[-1]
        if bottleneck % heads:
            raise ValueError(f"model.pix2seq-d.heads: {heads} does not divide the decoder's {bottleneck} channels")
        self.context = nn.Linear(context_dim, bottleneck)
        self.blocks = nn.ModuleList(CrossBlock(bottleneck, heads) for _ in range(layers))
        self.up = nn.ModuleList()
        for i in reversed(range(len(widths))):
            self.up.append(FiLMBlock(prev + widths[i], widths[i], emb))
            prev = widths[i]
        self.out = nn.Sequential(_norm(prev), nn.SiLU(), nn.Conv2d(prev, out_channels, 1))
        self.factor = 2 ** (len(widths) - 1)

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = -h % self.factor, -w % self.factor
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        emb = self.gamma_emb(gamma)
        x = self.conv_in(x)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x, emb)
            skips.append(x)
            if i < len(self.downsample):
                x = self.downsample[i](x)
        b, c, hh, ww = x.shape
        seq = x.flatten(2).transpose(1, 2)  # (B, T, C)
        pos = grid_encoding(hh, ww, c, x.device).to(seq.dtype) if c % 4 == 0 else torch.zeros_like(seq[0])
        memory = self.context(tokens)
        for layer in self.blocks:
            seq = layer(seq, memory, pos)
        x = seq.transpose(1, 2).reshape(b, c, hh, ww)
        for block in self.up:
            skip = skips.pop()
            if x.shape[-2:] != skip.shape[-2:]:
                x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = block(torch.cat([x, skip], 1), emb)
        return self.out(x)[..., :h, :w]
