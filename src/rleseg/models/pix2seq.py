"""The Pix2Seq segmentation model: backbone + transformer encoder + autoregressive token decoder.

``forward(images, inputs) -> logits`` for teacher-forced training; ``encode`` and ``decode_step`` let the
generator run the decoder one token at a time with a key/value cache. Video clips ``(B, N, 3, H, W)`` use
middle fusion: every frame goes through the backbone, and the encoder attends over all frames' features
with a learned temporal embedding added (paper IV, after the video detection paper's architecture).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from rleseg.models.backbone import Backbone
from rleseg.models.position import grid_encoding, sine_1d
from rleseg.models.token_init import structured_embeddings
from rleseg.models.transformer import DecoderLayer, EncoderLayer
from rleseg.tokenizers.base import Tokenizer


@dataclass
class ModelConfig:
    """Every architectural choice of :class:`Pix2SeqModel`, with the paper-like defaults.

    ``feature_level``: which backbone level feeds the encoder (-1: the deepest, stride 32; -2: stride 16).
    ``static_input``: a video model that sees only the first frame of each clip (paper V-D2 ablation).
    ``token_init``: ``"structured"`` (start tokens start as position encodings) or ``"random"``.
    ``multi_head``: the decoder writes one run per position with one head per run component (paper VI).
    """

    backbone: str = "resnet50"
    feature_level: int = -1
    pretrained: bool | str = False
    frozen_backbone: bool = False
    dim: int = 256
    heads: int = 8
    encoder_layers: int = 6
    decoder_layers: int = 6
    mlp_ratio: float = 4.0
    dropout: float = 0.1
    token_init: str = "structured"
    max_frames: int = 16
    static_input: bool = False
    multi_head: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (for checkpoints and YAML)."""
        return asdict(self)


class Pix2SeqModel(nn.Module):
    """Image (or clip) -> logits over the tokenizer's vocabulary, one position at a time."""

    def __init__(self, tok: Tokenizer, cfg: ModelConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or ModelConfig()
        if cfg.token_init not in ("structured", "random"):
            raise ValueError(f"token_init must be 'structured' or 'random', got {cfg.token_init!r}")
        self.vocab_size = tok.vocab_size
        self.backbone = Backbone(
            cfg.backbone,
            cfg.dim,
            pretrained=cfg.pretrained,
            frozen=cfg.frozen_backbone,
            out_index=cfg.feature_level,
        )
        self.encoder = nn.ModuleList(
            EncoderLayer(cfg.dim, cfg.heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.encoder_layers)
        )
        self.encoder_norm = nn.LayerNorm(cfg.dim)
        self.is_video = len(tok.mask_shape) == 3
        # temporal embeddings exist only for video tokenizers, so every parameter takes part in the loss (DDP)
        self.frame_embed = nn.Embedding(cfg.max_frames, cfg.dim) if self.is_video else None
        if self.frame_embed is not None:
            nn.init.normal_(self.frame_embed.weight, std=0.02)
        self.embed = nn.Embedding(tok.vocab_size, cfg.dim)
        self.decoder = nn.ModuleList(
            DecoderLayer(cfg.dim, cfg.heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.decoder_layers)
        )
        self.decoder_norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, tok.vocab_size)
        self._init_tokens(tok)

    def _init_tokens(self, tok: Tokenizer) -> None:
        gen = torch.Generator().manual_seed(0)
        if self.cfg.token_init == "structured":
            table = structured_embeddings(tok, self.cfg.dim, gen)
        else:
            table = torch.randn(tok.vocab_size, self.cfg.dim, generator=gen)
        with torch.no_grad():
            self.embed.weight.copy_(table)
            self.head.weight.copy_(table / math.sqrt(self.cfg.dim))
            self.head.bias.zero_()

    # ----- encoder ------------------------------------------------------------------------------------
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(B, 3, H, W)`` or clips ``(B, N, 3, H, W)`` -> memory ``(B, M, D)`` with positions added."""
        if images.dim() == 5:
            if self.frame_embed is None:
                raise ValueError(f"got clips {tuple(images.shape)} but the tokenizer is for single images")
            if self.cfg.static_input:
                images = images[:, :1]
            b, n = images.shape[:2]
            if n > self.cfg.max_frames:
                raise ValueError(f"clip of {n} frames is longer than max_frames={self.cfg.max_frames}")
            feats = self.backbone(images.flatten(0, 1))  # (B*N, D, h, w)
            d, h, w = feats.shape[1:]
            x = feats.view(b, n, d, h * w).permute(0, 1, 3, 2)  # (B, N, hw, D)
            pos = grid_encoding(h, w, d, feats.device)[None, None] + self.frame_embed.weight[:n, None, :][None]
            x, pos = x.reshape(b, n * h * w, d), pos.reshape(1, n * h * w, d)
        else:
            feats = self.backbone(images)
            b, d, h, w = feats.shape
            x = feats.flatten(2).transpose(1, 2)  # (B, hw, D)
            pos = grid_encoding(h, w, d, feats.device)[None]
        pos = pos.to(x.dtype)
        for layer in self.encoder:
            x = layer(x, pos)
        return self.encoder_norm(x) + pos

    # ----- decoder ------------------------------------------------------------------------------------
    def _token_inputs(self, tokens: torch.Tensor, offset: int = 0) -> torch.Tensor:
        positions = torch.arange(offset, offset + tokens.shape[1], device=tokens.device)
        return self.embed(tokens) + sine_1d(positions, self.cfg.dim).to(self.embed.weight.dtype)

    def decode(self, inputs: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Teacher-forced decoding: ``inputs (B, T)`` tokens, ``memory (B, M, D)`` -> logits ``(B, T, V)``."""
        x = self._token_inputs(inputs)
        for layer in self.decoder:
            x = layer(x, memory)
        return self.head(self.decoder_norm(x))

    def new_cache(self) -> list[dict[str, dict[str, torch.Tensor]]]:
        """An empty key/value cache for :meth:`decode_step`, one entry per decoder layer."""
        return [{"self": {}, "cross": {}} for _ in self.decoder]

    def decode_step(
        self,
        tokens: torch.Tensor,
        memory: torch.Tensor,
        cache: list[dict[str, dict[str, torch.Tensor]]],
        offset: int,
    ) -> torch.Tensor:
        """One cached step: ``tokens (B, 1)`` at position ``offset`` -> logits ``(B, V)`` of the next token."""
        x = self._token_inputs(tokens, offset)
        for layer, layer_cache in zip(self.decoder, cache, strict=True):
            x = layer(x, memory, cache=layer_cache)
        return self.head(self.decoder_norm(x))[:, -1]

    def forward(self, images: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """``images`` ``(B, 3, H, W)`` / ``(B, N, 3, H, W)``, ``inputs`` ``(B, T)`` -> logits ``(B, T, V)``."""
        return self.decode(inputs, self.encode(images))
