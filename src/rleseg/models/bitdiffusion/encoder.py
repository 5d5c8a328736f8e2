"""The image encoder of Pix2Seq-D: a timm backbone's feature pyramid, transformer encoder layers on its
deepest level, and a top-down merge of the levels (FPN-like lateral and upsampling connections) into one
feature map at the mask resolution. The encoder runs once per image; the mask decoder many times."""

from __future__ import annotations

from typing import Any, cast

import timm
import torch
import torch.nn.functional as F
from torch import nn

from rleseg.models.position import grid_encoding
from rleseg.models.transformer import EncoderLayer


class PyramidEncoder(nn.Module):
    """uint8 images ``(B, 3, P, P)`` -> ``(fused, tokens)``: ``fused`` ``(B, fuse_dim, h, w)`` at the mask
    size ``(h, w)``, ``tokens`` ``(B, M, dim)`` the transformer-encoded deepest features (for cross-attention).

    ``backbone``: a timm model name (random initialisation unless ``pretrained``, which downloads);
    ``levels``: the feature levels used (timm ``out_indices``, e.g. ``(1, 2, 3, 4)`` for strides 4..32).
    """

    def __init__(
        self,
        backbone: str,
        levels: tuple[int, ...],
        dim: int,
        heads: int,
        layers: int,
        fuse_dim: int,
        *,
        pretrained: bool = False,
    ) -> None:
        super().__init__()
        try:
            self.body = timm.create_model(backbone, pretrained=pretrained, features_only=True, out_indices=levels)
        except (RuntimeError, IndexError, ValueError) as err:
            raise ValueError(
                f"model.pix2seq-d: cannot build timm backbone {backbone!r} with levels {levels}: {err}"
            ) from None
        info: Any = self.body.feature_info
        channels: list[int] = info.channels()
        cfg: dict[str, Any] = dict(getattr(self.body, "pretrained_cfg", None) or {})
        mean, std = cfg.get("mean", (0.485, 0.456, 0.406)), cfg.get("std", (0.229, 0.224, 0.225))
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1) * 255, persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1) * 255, persistent=False)
        self.dim = dim
        self.proj = nn.Conv2d(channels[-1], dim, 1)
        self.layers = nn.ModuleList(EncoderLayer(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.lateral = nn.ModuleList(nn.Conv2d(c, fuse_dim, 1) for c in [*channels[:-1], dim])
        self.smooth = nn.Sequential(
            nn.Conv2d(fuse_dim, fuse_dim, 3, padding=1), nn.GroupNorm(min(32, fuse_dim // 4), fuse_dim), nn.SiLU()
        )

    def forward(self, images: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, 3, P, P)`` uint8 or float 0..255 -> ``(B, fuse_dim, *size)``, ``(B, M, dim)``."""
        mean, std = cast(torch.Tensor, self.mean), cast(torch.Tensor, self.std)
        feats = self.body((images.float() - mean) / std)  # coarsest last
        deep = self.proj(feats[-1])  # (B, D, h', w')
        b, d, hh, ww = deep.shape
        tokens = deep.flatten(2).transpose(1, 2)  # (B, M, D)
        pos = grid_encoding(hh, ww, d, tokens.device).to(tokens.dtype)
        for layer in self.layers:
            tokens = layer(tokens, pos)
        tokens = self.norm(tokens)
        levels = [*feats[:-1], tokens.transpose(1, 2).reshape(b, d, hh, ww)]
        fused = self.lateral[-1](levels[-1])
        for lateral, feat in zip(list(self.lateral)[-2::-1], levels[-2::-1], strict=True):
            fused = lateral(feat) + F.interpolate(fused, size=feat.shape[-2:], mode="nearest")
        fused = self.smooth(fused)  # at the finest level, before upsampling (cheaper than at the mask size)
        return F.interpolate(fused, size=size, mode="bilinear", align_corners=False), tokens
