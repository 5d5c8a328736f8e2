"""The mask decoder's output: logits per id group, the analog bits they imply, and the training loss.

``"softmax"`` (the paper's choice, and the authors' 2-group setting): each id group (the class bits, the
instance bits) gets ``2 ** bits`` logits, a softmax over the group's ``2 ** bits`` values, trained with
cross-entropy against the true id; the analog bits are the softmax-weighted average of the values' bit codes,
mapped to ``[-b, b]``. ``"sigmoid"``: one logit per bit and a binary cross-entropy per bit, which is the
softmax cross-entropy of 2-way groups (the softmax of logits ``(0, z)`` is ``sigmoid(z)``); cheaper for many
bits, but it models the bits of an id as independent. Both weight pixels by ``weights`` (instance size).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rleseg.models.bitdiffusion.bits import BitLayout, int_to_bits

LOSSES = ("softmax", "sigmoid")
MAX_SOFTMAX_BITS = 10  # 1024 logits per group and pixel


def check_loss(loss: str, layout: BitLayout) -> None:
    """ValueError for an unknown loss, or a softmax over more than ``MAX_SOFTMAX_BITS`` bits."""
    if loss not in LOSSES:
        raise ValueError(f"model.pix2seq-d.loss: expected one of {', '.join(LOSSES)}, got {loss!r}")
    if loss == "softmax" and max(layout.groups) > MAX_SOFTMAX_BITS:
        raise ValueError(
            f"model.pix2seq-d.loss softmax: a group of {max(layout.groups)} bits needs {2 ** max(layout.groups)} "
            f"logits per pixel; use at most {MAX_SOFTMAX_BITS} bits per id or loss=sigmoid"
        )


def logit_channels(layout: BitLayout, loss: str) -> int:
    """Output channels of the decoder: ``2**class_bits + 2**instance_bits`` (softmax) or ``K`` (sigmoid)."""
    return sum(2**n for n in layout.groups) if loss == "softmax" else layout.channels


def analog_from_logits(logits: torch.Tensor, layout: BitLayout, loss: str, scale: float) -> torch.Tensor:
    """Decoder logits ``(B, logit_channels, h, w)`` -> predicted analog bits ``x_0`` ``(B, K, h, w)`` in
    ``[-scale, scale]``."""
    if loss == "sigmoid":
        return (torch.sigmoid(logits) * 2 - 1) * scale
    parts = []
    for group, n in zip(logits.split([2**n for n in layout.groups], 1), layout.groups, strict=True):
        codes = int_to_bits(torch.arange(2**n, device=logits.device), n).to(logits.dtype)  # (2**n, n)
        parts.append(torch.einsum("bvhw,vn->bnhw", group.softmax(1), codes))
    return (torch.cat(parts, 1) * 2 - 1) * scale


def bit_loss(
    logits: torch.Tensor,
    classes: torch.Tensor,
    instances: torch.Tensor,
    weights: torch.Tensor,
    layout: BitLayout,
    loss: str,
) -> torch.Tensor:
    """Weighted cross-entropy of ``logits`` ``(B, C_out, h, w)`` against the ids ``(B, h, w)``, summed over
    the two groups (softmax) or the K bits (sigmoid) and averaged over the pixels with ``weights``
    ``(B, h, w)``."""
    if loss == "sigmoid":
        bits = torch.cat([int_to_bits(classes, layout.class_bits), int_to_bits(instances, layout.instance_bits)], -1)
        per_bit = F.binary_cross_entropy_with_logits(logits, bits.movedim(-1, 1), reduction="none")
        per_pixel = per_bit.sum(1)
    else:
        class_logits, instance_logits = logits.split([2**n for n in layout.groups], 1)
        per_pixel = F.cross_entropy(class_logits, classes, reduction="none") + F.cross_entropy(
            instance_logits, instances, reduction="none"
        )
    return (per_pixel * weights).mean()
