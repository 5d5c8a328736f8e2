"""Learned attention bias between the frames of a clip.

A video model that reads N frames attends across them from its first step, before it can know whether another
frame helps. :class:`FrameAttentionBias` adds one learned number per layer and head to the attention logits
between a frame and the clip's other frames: in the encoder's self-attention, and in the decoder's
cross-attention when every frame is written as its own sequence (``frame_fusion: per-frame``). Started
negative (e.g. -4: another frame's feature gets e^-4, about 2%, of the weight of an own-frame feature with the
same score), the model starts close to an image model that reads one frame, and learns how much to look
across.
"""

from __future__ import annotations

import torch
from torch import nn


class FrameAttentionBias(nn.Module):
    """Per-layer, per-head biases on attention across frames, all starting at ``init``.

    ``encoder_layers`` / ``decoder_layers``: how many layers get a bias (0 for none).
    """

    def __init__(self, init: float, heads: int, encoder_layers: int, decoder_layers: int) -> None:
        super().__init__()
        self.encoder = nn.Parameter(torch.full((encoder_layers, heads), float(init)))
        self.decoder = nn.Parameter(torch.full((decoder_layers, heads), float(init)))

    def encoder_biases(self, frames: int, rows: int, dtype: torch.dtype) -> torch.Tensor:
        """Additive biases ``(layers, 1, H, N * rows, N * rows)``, one per encoder layer, for self-attention over
        ``frames`` frames of ``rows`` features each (frame after frame): 0 within a frame, the layer's bias
        across frames."""
        frame = torch.arange(frames, device=self.encoder.device).repeat_interleave(rows)  # (N*rows,)
        across = (frame[:, None] != frame[None, :]).to(dtype)  # (N*rows, N*rows)
        return self.encoder.to(dtype)[:, None, :, None, None] * across

    def decoder_biases(self, own_rows: int, other_rows: int, after_rows: int, dtype: torch.dtype) -> torch.Tensor:
        """Additive biases ``(layers, 1, H, 1, M)``, one per decoder layer, for cross-attention to a per-frame
        memory laid out as the frame's own ``own_rows``, the other frames' ``other_rows``, then ``after_rows`` of
        the frame's own (fine features): the layer's bias on the other frames' rows, 0 elsewhere."""
        other = torch.zeros(own_rows + other_rows + after_rows, dtype=dtype, device=self.decoder.device)
        other[own_rows : own_rows + other_rows] = 1
        return self.decoder.to(dtype)[:, None, :, None, None] * other

    def values(self) -> torch.Tensor:
        """Every bias, encoder then decoder, ``(layers * heads,)``, detached (on the parameters' device)."""
        return torch.cat([self.encoder.detach().flatten(), self.decoder.detach().flatten()])

    def learned_range(self) -> tuple[float, float]:
        """The smallest and largest bias over all layers and heads (encoder and decoder) as they are now."""
        values = self.values()
        return float(values.min()), float(values.max())
