"""Encoder + mask decoder + output head: the network that Pix2Seq-D trains and samples with."""

from __future__ import annotations

import torch
from torch import nn

from rleseg.models.bitdiffusion.bits import BitLayout
from rleseg.models.bitdiffusion.decoder import MaskDecoder
from rleseg.models.bitdiffusion.encoder import PyramidEncoder
from rleseg.models.bitdiffusion.head import analog_from_logits


class BitDiffusionNet(nn.Module):
    """The image encoder (run once per image) and the mask decoder (run at every sampling step).

    The decoder reads, stacked on the channel axis: the noisy bits ``x_t`` (K), the encoder's fused features,
    the previous frames' bits (``previous_frames * K``, streaming video) and the previous step's prediction
    (K, with ``self_condition``). With ``normalize_input``, ``x_t`` is first divided by its standard deviation
    ``sqrt(gamma * scale**2 + 1 - gamma)`` (about 1 at every noise level, instead of falling to ``scale`` as
    ``gamma`` nears 1: at ``scale`` 0.1 the ids written in a nearly clean ``x_t`` are small next to the image
    features; EDM's input preconditioning), and the clean bits it is given (previous frames, previous step) are
    read at ``{-1, +1}`` instead of ``{-scale, +scale}``.
    """

    def __init__(
        self,
        encoder: PyramidEncoder,
        decoder: MaskDecoder,
        layout: BitLayout,
        loss: str,
        scale: float,
        previous_frames: int = 0,
        self_condition: bool = False,
        normalize_input: bool = False,
    ) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.layout, self.loss, self.scale = layout, loss, scale
        self.previous_frames, self.self_condition = previous_frames, self_condition
        self.normalize_input = normalize_input

    def encode(self, images: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images ``(B, 3, P, P)`` -> fused features ``(B, F, *size)`` and tokens ``(B, M, D)``."""
        return self.encoder(images, size)

    def logits(
        self,
        x_t: torch.Tensor,
        gamma: torch.Tensor,
        features: tuple[torch.Tensor, torch.Tensor],
        previous: torch.Tensor | None = None,
        x0_previous: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Decoder logits ``(B, C_out, h, w)`` for the noisy bits ``x_t`` ``(B, K, h, w)`` at ``gamma`` ``(B,)``.

        ``previous``: ``(B, previous_frames * K, h, w)`` bits of the previous frames (zeros where there are
        none); ``x0_previous``: the previous step's ``x_0`` (zeros when there is none) with self-conditioning.
        """
        fused, tokens = features
        if self.normalize_input:
            g = gamma.to(x_t).reshape(-1, 1, 1, 1)
            x_t = x_t / (g * self.scale**2 + 1 - g).sqrt()
        clean = 1 / self.scale if self.normalize_input else 1.0  # clean bits: {-scale, scale} -> {-1, 1}
        parts = [x_t, fused]
        if self.previous_frames:
            if previous is None:
                previous = x_t.new_zeros(x_t.shape[0], self.previous_frames * self.layout.channels, *x_t.shape[2:])
            parts.append(previous * clean)
        if self.self_condition:
            parts.append(torch.zeros_like(x_t) if x0_previous is None else x0_previous * clean)
        return self.decoder(torch.cat(parts, 1), gamma, tokens)

    def x0(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits -> predicted analog bits ``(B, K, h, w)`` in ``[-scale, scale]``."""
        return analog_from_logits(logits, self.layout, self.loss, self.scale)
