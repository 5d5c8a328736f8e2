"""Integer labels <-> analog bits (Bit Diffusion): ids become bits, least significant first, and bits become
real numbers in ``{-b, +b}``; decoding thresholds at 0.

A panoptic label map is two integer channels, the class id (``class_bits`` bits) and the instance id
(``instance_bits`` bits); their bits are stacked into ``K = class_bits + instance_bits`` channels, class bits
first. The authors use 8 + 8 bits and an input scale ``b`` of 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def int_to_bits(ids: torch.Tensor, n: int) -> torch.Tensor:
    """Integers ``(...,)`` in ``0 .. 2**n - 1`` -> bits ``(..., n)`` as float 0/1, least significant first."""
    shifts = torch.arange(n, device=ids.device)
    return ((ids.long()[..., None] >> shifts) & 1).float()


def bits_to_int(bits: torch.Tensor) -> torch.Tensor:
    """Bits ``(..., n)`` (bool or 0/1, least significant first) -> int64 ``(...,)``."""
    n = bits.shape[-1]
    weights = 2 ** torch.arange(n, device=bits.device, dtype=torch.int64)
    return (bits.long() * weights).sum(-1)


@dataclass(frozen=True)
class BitLayout:
    """How many bits the class and the instance ids get (``K = class_bits + instance_bits`` channels)."""

    class_bits: int = 8
    instance_bits: int = 8

    def __post_init__(self) -> None:
        for name, n in (("class_bits", self.class_bits), ("instance_bits", self.instance_bits)):
            if not 1 <= n <= 16:
                raise ValueError(f"{name}: expected 1..16 bits, got {n}")

    @property
    def channels(self) -> int:
        """K: analog channels of one panoptic mask."""
        return self.class_bits + self.instance_bits

    @property
    def groups(self) -> tuple[int, int]:
        """Bits of each id group: ``(class_bits, instance_bits)``."""
        return (self.class_bits, self.instance_bits)

    @property
    def max_class(self) -> int:
        """The largest class id the class bits hold."""
        return 2**self.class_bits - 1

    @property
    def max_instance(self) -> int:
        """The largest instance id the instance bits hold (ids 1..max_instance; 0 is no instance)."""
        return 2**self.instance_bits - 1


def encode_panoptic(classes: torch.Tensor, instances: torch.Tensor, layout: BitLayout, scale: float) -> torch.Tensor:
    """Class ids and instance ids ``(B, h, w)`` -> analog bits ``(B, K, h, w)`` in ``{-scale, +scale}``.

    ValueError when an id is negative or does not fit its bits."""
    for name, ids, top in (("class", classes, layout.max_class), ("instance", instances, layout.max_instance)):
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) > top):
            raise ValueError(
                f"{name} ids must lie in 0..{top} for {name}_bits={layout.groups[name == 'instance']}, got "
                f"{int(ids.min())}..{int(ids.max())}"
            )
    bits = torch.cat([int_to_bits(classes, layout.class_bits), int_to_bits(instances, layout.instance_bits)], -1)
    return ((bits * 2 - 1) * scale).movedim(-1, -3).contiguous()


def decode_panoptic(analog: torch.Tensor, layout: BitLayout) -> tuple[torch.Tensor, torch.Tensor]:
    """Analog bits ``(B, K, h, w)`` -> class ids and instance ids ``(B, h, w)`` int64 (bits: value > 0)."""
    if analog.shape[-3] != layout.channels:
        raise ValueError(f"expected {layout.channels} bit channels, got {analog.shape[-3]}")
    bits = analog.movedim(-3, -1) > 0
    return bits_to_int(bits[..., : layout.class_bits]), bits_to_int(bits[..., layout.class_bits :])
