"""The Pix2Seq segmentation model: backbone + transformer encoder + autoregressive token decoder.

``forward(images, inputs) -> logits`` for teacher-forced training; ``encode`` and ``decode_step`` let the
generator run the decoder one token at a time with a key/value cache. Video clips ``(B, N, 3, H, W)`` use
middle fusion: every frame goes through the backbone, and the encoder attends over all frames' features
with a learned temporal embedding added (paper IV, after the video detection paper's architecture).

With ``fine_level`` the model also builds fine features on the tokenizer's S x S grid (:class:`FineMap`);
they are appended to the memory ``encode`` returns (S_h * S_w rows), so the generator carries them without
knowing; training decodes from the parts (:meth:`encode_parts`). They feed the start pointer
(``pointer_starts``), optionally the decoder's cross-attention (``fine_memory``) and a per-pixel auxiliary
loss (``dense_loss_weight``, see :meth:`forward_dense`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from rleseg.models.backbone import Backbone
from rleseg.models.fine_map import FineMap, FrameMix, FrameNeighbours
from rleseg.models.frame_bias import FrameAttentionBias
from rleseg.models.pointer import StartPointer
from rleseg.models.position import grid_encoding, sine_1d
from rleseg.models.token_init import structured_embeddings
from rleseg.models.transformer import DecoderLayer, EncoderLayer
from rleseg.tokenizers.base import Tokenizer
from rleseg.tokenizers.frame_scheme import frame_tokenizer

FRAME_FUSIONS = ("concat", "mean", "separate", "per-frame")


class MemoryParts(NamedTuple):
    """An encoded image's memory in its parts: ``coarse`` ``(B, M, D)`` (the encoder output with positions)
    and ``fine`` ``(B, G, D)`` features on the S x S grid (None without ``fine_level``). Teacher-forced
    training reads them as they are; generation carries them concatenated (:meth:`Pix2SeqModel.encode`), and
    :meth:`Pix2SeqModel.split_memory` takes them apart again."""

    coarse: torch.Tensor
    fine: torch.Tensor | None


@dataclass
class ModelConfig:
    """Every architectural choice of :class:`Pix2SeqModel`, with the paper-like defaults.

    ``feature_level``: which backbone level feeds the encoder (-1: the deepest, stride 32; -2: stride 16).
    ``static_input``: a video model that sees only the first frame of each clip (paper V-D2 ablation).
    ``token_init``: ``"structured"`` (start tokens start as position encodings) or ``"random"``.
    ``multi_head``: the decoder writes one run per position with one head per run component (paper VI).
    ``fine_level``: a finer backbone level (timm index, e.g. 1 for stride 4) fused with the encoder output
    on the tokenizer's S x S grid; needed by ``pointer_starts`` (start logits from the feature at each start's
    pixel, and that feature added to start inputs), ``fine_memory`` (the decoder also cross-attends to the
    fine features) and ``dense_loss_weight`` (weight of a per-pixel cross-entropy + Dice loss on them, added
    to the token loss in training; 0 = off).
    ``frame_fusion``: how a clip's frames share the S x S grid of fine features (video models with
    ``fine_level``): ``"concat"`` (each cell's features of all N frames, concatenated and projected back to
    ``dim``; starts as their mean and learns which frame shows what), ``"mean"`` (averaged, as before
    2026-12-01: a cell's features no longer say in which frame a cell was there) or ``"separate"`` (every
    frame keeps its grid: N * S_h * S_w fine features, and the start pointer names a cell of the frame a
    start names; for 3d-c and 3d-f, whose starts name a frame) or ``"per-frame"`` (3d-c only: every frame
    is written as its own sequence in the frame's image scheme, with L / N of the budget, see
    :func:`~rleseg.tokenizers.frame_scheme.frame_tokenizer`; the N sequences of a clip are decoded side by
    side, each cross-attending to the whole clip's memory with its own frame's rows marked, and pointing at its
    own frame's grid).
    ``frame_attention_bias``: clip models only; when set, a learned bias per layer and head, starting at this
    value, is added to the attention logits between a frame and the clip's other frames (encoder
    self-attention, and the decoder's cross-attention with ``frame_fusion: per-frame``): negative values start
    the model close to an image model reading one frame (see :mod:`rleseg.models.frame_bias`). None: off.
    ``frame_attention_bias_lr``: the learning rate of those biases, without weight decay (None: ``train.lr``).
    Adam moves a parameter by about its learning rate per step, so at 1e-3 a bias started at -4 can reach at
    most about -3.5 in a 1,000-step run: to learn whether to look across frames on a short budget, the biases
    need a rate of their own (e.g. 0.02).
    ``frame_neighbours``: clip models whose frames keep their own fine grid (``frame_fusion`` per-frame or
    separate); when > 0, each frame's grid also reads the other frames' fine features within this many grid
    cells (odd: 3 reads +-1 cell, +-4 pixels at stride 4), mixed in by a projection that starts at 0
    (:class:`~rleseg.models.fine_map.FrameNeighbours`): the start pointer then sees a cell the other frame shows
    better, not only through the coarse encoder. 0: off.
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
    fine_level: int | None = None
    pointer_starts: bool = False
    fine_memory: bool = False
    dense_loss_weight: float = 0.0
    frame_fusion: str = "concat"
    frame_attention_bias: float | None = None
    frame_attention_bias_lr: float | None = None
    frame_neighbours: int = 0

    def __post_init__(self) -> None:
        if self.frame_fusion not in FRAME_FUSIONS:
            raise ValueError(f"frame_fusion must be one of {FRAME_FUSIONS}, got {self.frame_fusion!r}")
        users = [k for k in ("pointer_starts", "fine_memory", "dense_loss_weight") if getattr(self, k)]
        if self.fine_level is None and users:
            raise ValueError(f"model options {users} need fine features: set fine_level (e.g. 1 for stride 4)")
        if self.fine_level is not None and not users:
            raise ValueError(
                f"fine_level={self.fine_level} builds fine features nothing uses: also set pointer_starts, "
                "fine_memory or dense_loss_weight (or unset fine_level)"
            )
        if self.frame_fusion == "per-frame" and (self.static_input or self.multi_head):
            other = "static_input" if self.static_input else "multi_head"
            raise ValueError(f"frame_fusion per-frame writes every frame of a clip; it does not combine with {other}")
        if self.dense_loss_weight < 0:
            raise ValueError(f"dense_loss_weight must be >= 0, got {self.dense_loss_weight}")
        lr = self.frame_attention_bias_lr
        if lr is not None and self.frame_attention_bias is None:
            raise ValueError(
                f"model.pix2seq.frame_attention_bias_lr={lr}: expected a rate > 0 for the biases that "
                "frame_attention_bias sets (it is unset here)"
            )
        if lr is not None and not lr > 0:
            raise ValueError(f"model.pix2seq.frame_attention_bias_lr: expected a rate > 0, got {lr}")
        self._check_frame_neighbours()

    def _check_frame_neighbours(self) -> None:
        reach = self.frame_neighbours
        if not reach:
            return
        if reach < 0 or reach % 2 == 0:
            raise ValueError(f"model.pix2seq.frame_neighbours: expected 0 (off) or an odd number of cells, got {reach}")
        if self.fine_level is None or self.frame_fusion not in ("per-frame", "separate"):
            raise ValueError(
                f"model.pix2seq.frame_neighbours={reach} mixes the frames' own fine grids: it needs fine_level and "
                f"frame_fusion per-frame or separate (got fine_level={self.fine_level}, "
                f"frame_fusion={self.frame_fusion})"
            )

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
        self.is_video = len(tok.mask_shape) == 3
        frames = int(tok.mask_shape[0]) if self.is_video and not cfg.static_input else 1
        # one sequence per frame: the decoder writes the frame scheme's tokens, N sequences per clip
        self.per_frame_sequences = cfg.frame_fusion == "per-frame" and frames > 1
        self.sequence_frames = frames  # frames of a clip (1 for images and static_input)
        if self.per_frame_sequences:
            try:
                tok = frame_tokenizer(tok)
            except ValueError as err:
                raise ValueError(f"model.pix2seq.frame_fusion=per-frame: {err}") from None
        self.sequence_tokenizer = tok  # the scheme of the sequences the decoder writes
        self.vocab_size = tok.vocab_size
        self.backbone = Backbone(
            cfg.backbone,
            cfg.dim,
            pretrained=cfg.pretrained,
            frozen=cfg.frozen_backbone,
            out_index=cfg.feature_level,
            fine_index=cfg.fine_level,
        )
        self.encoder = nn.ModuleList(
            EncoderLayer(cfg.dim, cfg.heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.encoder_layers)
        )
        self.encoder_norm = nn.LayerNorm(cfg.dim)
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
        grid = (int(tok.height), int(tok.width))
        self.fine_map: FineMap | None = None
        if self.backbone.fine_channels is not None:
            self.fine_map = FineMap(self.backbone.fine_channels, cfg.dim, grid)
        fusion = cfg.frame_fusion if self.fine_map is not None and frames > 1 else None
        self.per_frame_grids = fusion == "separate"
        grids = frames if self.per_frame_grids else 1  # fine grids appended to the memory
        self.fine_cells = grid[0] * grid[1] * grids if self.fine_map is not None else 0
        self.dense_head: nn.Conv2d | None = None
        if cfg.dense_loss_weight > 0:
            self.dense_head = nn.Conv2d(cfg.dim, tok.num_classes + 1, 1)
        self.pointer = StartPointer(tok, cfg.dim, grid, self.per_frame_grids) if cfg.pointer_starts else None
        self.frame_mix = FrameMix(frames, cfg.dim) if fusion == "concat" else None
        self.frame_neighbours: FrameNeighbours | None = None
        if cfg.frame_neighbours:
            if fusion not in ("per-frame", "separate"):
                raise ValueError(
                    f"model.pix2seq.frame_neighbours={cfg.frame_neighbours} mixes the fine grids of a clip's frames; "
                    f"this model reads one frame (tokenizer mask shape {tuple(tok.mask_shape)}"
                    f"{', static_input' if cfg.static_input else ''})"
                )
            self.frame_neighbours = FrameNeighbours(frames, cfg.dim, cfg.frame_neighbours)
        # added to the memory rows of the frame a sequence writes (per-frame sequences)
        self.own_frame: nn.Parameter | None = None
        if self.per_frame_sequences:
            self.own_frame = nn.Parameter(torch.randn(cfg.dim) * 0.02)
        self.frame_bias: FrameAttentionBias | None = None
        if cfg.frame_attention_bias is not None:
            if frames < 2:
                raise ValueError(
                    f"model.pix2seq.frame_attention_bias={cfg.frame_attention_bias} biases attention across the "
                    f"frames of a clip; this model reads one frame (tokenizer mask shape {tuple(tok.mask_shape)}"
                    f"{', static_input' if cfg.static_input else ''})"
                )
            cross_layers = cfg.decoder_layers if self.per_frame_sequences else 0
            self.frame_bias = FrameAttentionBias(cfg.frame_attention_bias, cfg.heads, cfg.encoder_layers, cross_layers)

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
        """Images ``(B, 3, H, W)`` or clips ``(B, N, 3, H, W)`` -> memory ``(B, M, D)`` with positions added
        (with ``fine_level``, the fine features are appended: see :meth:`split_memory`);
        with per-frame sequences one memory per frame, ``(B * N, M, D)``, frame after frame."""
        return self.encode_dense(images)[0]

    def encode_dense(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Memory ``(B, M, D)`` and, with ``dense_loss_weight``, per-pixel class logits ``(B, C + 1, S_h, S_w)``
        from the fine features (``(B, N, C + 1, S_h, S_w)`` for clips), else None."""
        parts, dense = self.encode_parts(images)
        rows = [t for t in parts if t is not None]
        return (rows[0] if len(rows) == 1 else torch.cat(rows, dim=1)), dense

    def encode_parts(self, images: torch.Tensor) -> tuple[MemoryParts, torch.Tensor | None]:
        """The memory of :meth:`encode_dense` in its parts (:class:`MemoryParts`), and the per-pixel logits.

        Training decodes from the parts: slicing one concatenated memory made every step's backward pass
        allocate, zero and sum three memory-sized gradients (a fifth of the decoder's time on a CPU)."""
        n = 0
        if images.dim() == 5:
            if self.frame_embed is None:
                raise ValueError(f"got clips {tuple(images.shape)} but the tokenizer is for single images")
            if self.cfg.static_input:
                images = images[:, :1]
            b, n = images.shape[:2]
            if n > self.cfg.max_frames:
                raise ValueError(f"clip of {n} frames is longer than max_frames={self.cfg.max_frames}")
            feats, fine = self.backbone.forward_levels(images.flatten(0, 1))  # (B*N, D, h, w)
            d, h, w = feats.shape[1:]
            x = feats.view(b, n, d, h * w).permute(0, 1, 3, 2)  # (B, N, hw, D)
            pos = grid_encoding(h, w, d, feats.device)[None, None] + self.frame_embed.weight[:n, None, :][None]
            x, pos = x.reshape(b, n * h * w, d), pos.reshape(1, n * h * w, d)
        else:
            feats, fine = self.backbone.forward_levels(images)
            b, d, h, w = feats.shape
            x = feats.flatten(2).transpose(1, 2)  # (B, hw, D)
            pos = grid_encoding(h, w, d, feats.device)[None]
        pos = pos.to(x.dtype)
        biases = None  # (layers, 1, H, N*hw, N*hw): attention across frames
        if self.frame_bias is not None and n:
            biases = self.frame_bias.encoder_biases(n, h * w, x.dtype)
        for i, layer in enumerate(self.encoder):
            x = layer(x, pos, None if biases is None else biases[i])
        clip_memory = self.encoder_norm(x) + pos
        # per-frame sequences: one copy of the clip's memory per frame, (B*N, N*hw, D)
        memory = clip_memory if self.own_frame is None else self._frame_memories(clip_memory, n)
        if self.fine_map is None or fine is None:
            return MemoryParts(memory, None), None
        context = clip_memory.reshape(b * max(n, 1), h * w, d).transpose(1, 2).reshape(-1, d, h, w)
        grid_feats = self.fine_map(fine, context)  # (B*N, D, S_h, S_w)
        if self.frame_neighbours is not None:  # each frame's grid also reads the other frames nearby
            grid_feats = self.frame_neighbours(grid_feats.view(b, n, *grid_feats.shape[1:])).flatten(0, 1)
        dense = None if self.dense_head is None else self.dense_head(grid_feats)  # (B*N, C+1, S_h, S_w)
        if n:
            grid_feats = grid_feats.view(b, n, *grid_feats.shape[1:])  # (B, N, D, S_h, S_w)
            dense = None if dense is None else dense.view(b, n, *dense.shape[1:])
            if self.per_frame_sequences:  # each frame's sequence points at its own frame's grid
                grid_feats = grid_feats.flatten(0, 1)  # (B*N, D, S_h, S_w)
            elif self.per_frame_grids:  # every frame keeps its grid, frame after frame
                grid_feats = grid_feats.transpose(1, 2)  # (B, D, N, S_h, S_w)
            elif self.frame_mix is not None:  # frames share the start grid
                grid_feats = self.frame_mix(grid_feats)
            else:
                grid_feats = grid_feats.mean(1)
        fine_tokens = grid_feats.flatten(2).transpose(1, 2).to(memory.dtype)  # (B, G, D); G = N * S_h * S_w if separate
        return MemoryParts(memory, fine_tokens), dense

    def _frame_memories(self, memory: torch.Tensor, n: int) -> torch.Tensor:
        """Clip memory ``(B, N * hw, D)`` -> ``(B * N, N * hw, D)``: copy ``t`` holds frame ``t``'s rows first,
        with :attr:`own_frame` added so the sequence of frame ``t`` knows which frame it writes, then the other
        frames' rows in order (cross-attention does not depend on the order of rows; the order lets
        :attr:`frame_bias` find the other frames' rows whatever the batch)."""
        assert self.own_frame is not None
        b, m, d = memory.shape
        frames = memory.view(b, n, m // n, d)  # (B, N, hw, D)
        order = torch.tensor([[t, *(s for s in range(n) if s != t)] for t in range(n)], device=memory.device)
        copies = frames[:, order]  # (B, N, N, hw, D): copy t, its frames own-first (a new tensor)
        copies[:, :, 0] += self.own_frame.to(memory.dtype)
        return copies.reshape(b * n, m, d)

    def _cross_biases(self, cross_rows: int, dtype: torch.dtype) -> list[torch.Tensor | None]:
        """Per decoder layer, the frame bias ``(1, H, 1, M)`` of its cross-attention to ``cross_rows`` rows of a
        per-frame memory (own frame, other frames, then the fine rows if ``fine_memory``); None without one."""
        if self.frame_bias is None or not self.per_frame_sequences:
            return [None] * len(self.decoder)
        fine_rows = self.fine_cells if self.cfg.fine_memory else 0
        coarse = cross_rows - fine_rows
        own = coarse // self.sequence_frames
        return list(self.frame_bias.decoder_biases(own, coarse - own, fine_rows, dtype))

    def split_memory(self, memory: torch.Tensor) -> MemoryParts:
        """``memory (B, M, D)`` from :meth:`encode` -> its :class:`MemoryParts` (coarse rows and fine features;
        None where the model has none)."""
        g = self.fine_cells
        if not g:
            return MemoryParts(memory, None)
        return MemoryParts(memory[:, :-g], memory[:, -g:])

    def _cross(self, parts: MemoryParts) -> torch.Tensor:
        """What the decoder cross-attends to ``(B, M', D)``: the coarse rows, and the fine rows with ``fine_memory``."""
        if self.cfg.fine_memory and parts.fine is not None:
            return torch.cat([parts.coarse, parts.fine], dim=1)
        return parts.coarse

    # ----- decoder ------------------------------------------------------------------------------------
    def _token_inputs(self, tokens: torch.Tensor, offset: int = 0, fine: torch.Tensor | None = None) -> torch.Tensor:
        positions = torch.arange(offset, offset + tokens.shape[1], device=tokens.device)
        x = self.embed(tokens) + sine_1d(positions, self.cfg.dim).to(self.embed.weight.dtype)
        if self.pointer is not None and fine is not None:
            x = x + self.pointer.input_features(tokens, fine)
        return x

    def _logits(self, x: torch.Tensor, fine: torch.Tensor | None) -> torch.Tensor:
        hidden = self.decoder_norm(x)
        logits = self.head(hidden)
        if self.pointer is not None and fine is not None:
            logits = self.pointer.add_logits(logits, hidden, fine)
        return logits

    def decode(self, inputs: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Teacher-forced decoding: ``inputs (B, T)`` tokens, ``memory (B, M, D)`` -> logits ``(B, T, V)``."""
        return self.decode_parts(inputs, self.split_memory(memory))

    def decode_parts(self, inputs: torch.Tensor, parts: MemoryParts) -> torch.Tensor:
        """:meth:`decode` from the memory's parts (:meth:`encode_parts`): ``inputs (B, T)`` -> ``(B, T, V)``."""
        cross = self._cross(parts)
        x = self._token_inputs(inputs, fine=parts.fine)
        for layer, bias in zip(self.decoder, self._cross_biases(cross.shape[1], x.dtype), strict=True):
            x = layer(x, cross, cross_bias=bias)
        return self._logits(x, parts.fine)

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
        parts = self.split_memory(memory)
        cross = self._cross(parts)
        x = self._token_inputs(tokens, offset, fine=parts.fine)
        biases = self._cross_biases(cross.shape[1], x.dtype)
        for layer, layer_cache, bias in zip(self.decoder, cache, biases, strict=True):
            x = layer(x, cross, cache=layer_cache, cross_bias=bias)
        return self._logits(x, parts.fine)[:, -1]

    def forward(self, images: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """``images`` ``(B, 3, H, W)`` / ``(B, N, 3, H, W)``, ``inputs`` ``(B, T)`` -> logits ``(B, T, V)``."""
        return self.decode_parts(inputs, self.encode_parts(images)[0])

    def forward_dense(self, images: torch.Tensor, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Token logits ``(B, T, V)`` and the per-pixel class logits of :meth:`encode_dense` (or None)."""
        parts, dense = self.encode_parts(images)
        return self.decode_parts(inputs, parts), dense
