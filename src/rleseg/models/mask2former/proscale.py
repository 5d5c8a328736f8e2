"""The PRO-SCALE encoder (progressive token length scaling, Aich et al.) in place of Mask2Former's deformable-
attention encoder, with its token re-calibration (TRC) and light pixel embedding (LPE); plain PyTorch on
``transformers``' deformable-attention layers (no compiled operator).

Tokens come in transformers' order, coarsest first: the 1/32 level (s4), then 1/16 (s3), then 1/8 (s2). Stage k
(k = 1, 2, 3, of ``p_k`` layers) runs deformable attention over the first k levels only: a prefix of the token
sequence, with the matching prefixes of the positions, reference points, spatial shapes and level start
indices; stage k + 1 takes stage k's output followed by the next finer level's input tokens. So s4 is updated
``p1 + p2 + p3`` times, s3 ``p2 + p3`` times and s2 ``p3`` times, and the early layers are short.

TRC: before they enter, s4 and s3 are gated by the finest level: ``s_i * sigmoid(eps * phi(resize(s2)))``, with
s2 laid out as its (H, W) grid (tokens transposed to channels first, not reshaped, which would scramble
positions), resized bilinearly to s_i's grid, and ``phi`` a linear map to one channel (a spatial gate).
LPE: the 1/4 level's 3x3 output convolution becomes 3x3 max pooling, group norm and ReLU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

LEVELS = 3  # the encoder's levels: 1/32, 1/16, 1/8


class TokenRecalibration(nn.Module):
    """TRC: gates coarse tokens ``(B, h*w, C)`` by the fine tokens ``(B, H*W, C)`` resized to their grid."""

    def __init__(self, dim: int, temperature: float) -> None:
        super().__init__()
        self.phi = nn.Linear(dim, 1)
        self.temperature = temperature

    def gate(self, fine: torch.Tensor, fine_shape: tuple[int, int], shape: tuple[int, int]) -> torch.Tensor:
        """Fine tokens ``(B, H*W, C)`` of a ``fine_shape`` ``(H, W)`` grid -> the gate ``(B, h*w, 1)`` of a
        ``shape`` ``(h, w)`` grid, in 0..1."""
        b, _, c = fine.shape
        grid = fine.transpose(1, 2).reshape(b, c, *fine_shape)  # (B, C, H, W): token y*W + x at (y, x)
        resized = F.interpolate(grid, size=shape, mode="bilinear", align_corners=False)  # (B, C, h, w)
        return torch.sigmoid(self.temperature * self.phi(resized.flatten(2).transpose(1, 2)))

    def forward(
        self, tokens: torch.Tensor, shape: tuple[int, int], fine: torch.Tensor, fine_shape: tuple[int, int]
    ) -> torch.Tensor:
        """``tokens`` ``(B, h*w, C)`` of a ``shape`` grid, gated by ``fine`` -> ``(B, h*w, C)``."""
        return tokens * self.gate(fine, fine_shape, shape)


def light_pixel_embedding(dim: int) -> nn.Module:
    """LPE: 3x3 max pooling (stride 1), group norm of 32 groups and ReLU; ``(B, dim, H, W)`` in and out."""
    return nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.GroupNorm(32, dim), nn.ReLU())


def stage_levels(stages: Sequence[int]) -> list[int]:
    """``(p1, p2, p3)`` -> the levels each encoder layer attends over, e.g. ``(1, 2, 1)`` -> ``[1, 2, 2, 3]``."""
    if len(stages) != LEVELS or min(stages) < 0 or sum(stages) < 1:
        raise ValueError(f"expected 3 stage depths (p1, p2, p3) >= 0, not all 0, got {list(stages)}")
    return [k for k, p in enumerate(stages, start=1) for _ in range(p)]


class ProScaleEncoder(nn.Module):
    """Drop-in for transformers' ``Mask2FormerPixelDecoderEncoderOnly`` (same call, same output): stages of
    ``stages = (p1, p2, p3)`` deformable-attention layers over 1, 2, then 3 levels; TRC when ``trc``."""

    def __init__(self, hf_config: Any, stages: Sequence[int], *, trc: bool = True, temperature: float = 0.1) -> None:
        super().__init__()
        from transformers.models.mask2former.modeling_mask2former import (
            Mask2FormerPixelDecoderEncoderLayer,
            Mask2FormerPixelDecoderEncoderMultiscaleDeformableAttention,
        )

        self.layer_levels = stage_levels(stages)
        layers = []
        for k in self.layer_levels:
            layer = Mask2FormerPixelDecoderEncoderLayer(hf_config)
            layer.self_attn = Mask2FormerPixelDecoderEncoderMultiscaleDeformableAttention(
                embed_dim=hf_config.feature_size, num_heads=hf_config.num_attention_heads, n_levels=k, n_points=4
            )
            layers.append(layer)
        self.layers = nn.ModuleList(layers)
        self.trc = TokenRecalibration(hf_config.feature_size, temperature) if trc else None

    def recalibrate(self, tokens: torch.Tensor, shapes: list[tuple[int, int]]) -> torch.Tensor:
        """TRC of the s4 and s3 tokens by the s2 tokens of the full sequence ``(B, K3, C)``."""
        if self.trc is None:
            return tokens
        parts = list(tokens.split([h * w for h, w in shapes], dim=1))
        for i in range(LEVELS - 1):
            parts[i] = self.trc(parts[i], shapes[i], parts[-1], shapes[-1])
        return torch.cat(parts, 1)

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_embeddings: torch.Tensor | None = None,
        spatial_shapes_list: list[tuple[int, int]] | None = None,
        level_start_index: torch.Tensor | None = None,
        valid_ratios: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> Any:
        """Tokens ``(B, K3, C)`` of the 3 levels (coarsest first; positions and mask alike), their
        ``spatial_shapes_list`` and ``level_start_index`` ``(3,)``, ``valid_ratios`` ``(B, 3, 2)`` ->
        ``BaseModelOutput`` with ``last_hidden_state`` ``(B, K3, C)``."""
        from transformers.modeling_outputs import BaseModelOutput
        from transformers.models.mask2former.modeling_mask2former import Mask2FormerPixelDecoderEncoderOnly

        if spatial_shapes_list is None or level_start_index is None or valid_ratios is None:
            raise ValueError("the PRO-SCALE encoder needs spatial_shapes_list, level_start_index and valid_ratios")
        shapes = [(int(h), int(w)) for h, w in spatial_shapes_list]
        if len(shapes) != LEVELS:
            raise ValueError(f"the PRO-SCALE encoder takes {LEVELS} levels, got spatial shapes {shapes}")
        ends = torch.tensor([h * w for h, w in shapes]).cumsum(0).tolist()
        out = self.recalibrate(inputs_embeds, shapes)
        references: dict[int, torch.Tensor] = {}
        for layer, k in zip(self.layers, self.layer_levels, strict=True):
            n = ends[k - 1]  # the first k levels' tokens
            if k not in references:
                references[k] = Mask2FormerPixelDecoderEncoderOnly.get_reference_points(
                    shapes[:k], valid_ratios[:, :k], device=inputs_embeds.device
                )
            hidden = layer(
                out[:, :n],
                None if attention_mask is None else attention_mask[:, :n],
                position_embeddings=None if position_embeddings is None else position_embeddings[:, :n],
                reference_points=references[k],
                spatial_shapes_list=shapes[:k],
                level_start_index=level_start_index[:k],
            )[0]
            out = torch.cat([hidden, out[:, n:]], 1)
        return BaseModelOutput(last_hidden_state=out, hidden_states=None, attentions=None)


def install_proscale(
    model: nn.Module, stages: Sequence[int], *, trc: bool = True, temperature: float = 0.1, lpe: bool = True
) -> None:
    """Replace the encoder of a ``Mask2FormerForUniversalSegmentation``'s pixel decoder by PRO-SCALE (and, with
    ``lpe``, the 1/4 level's output convolution by LPE), initialised as transformers initialises its own."""
    inner: Any = model
    decoder = inner.model.pixel_level_module.decoder
    encoder = ProScaleEncoder(inner.config, stages, trc=trc, temperature=temperature)
    # children before parents (``apply`` is post-order), as transformers does: the deformable attention's own
    # initialisation (zero offset weights, the offset grid as bias, zero attention weights, Xavier projections)
    # must come after, not before, the generic N(0, 0.02) of its Linear children, which would otherwise overwrite it
    encoder.apply(inner._init_weights)
    decoder.encoder = encoder
    if lpe:
        embeddings = []
        for idx in range(decoder.num_fpn_levels):  # the output convolutions, coarse to fine
            embedding = light_pixel_embedding(inner.config.feature_size)
            setattr(decoder, f"layer_{decoder.num_fpn_levels - idx}", embedding)
            embeddings.append(embedding)
        decoder.output_convolutions = embeddings
