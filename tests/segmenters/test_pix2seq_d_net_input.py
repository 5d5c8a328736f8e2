"""The decoder's view of the noisy bits: with ``normalize_input`` it reads ``x_t`` at unit variance at every
noise level; without, exactly ``x_t`` (whose spread falls to the input scale b as the noise vanishes)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from rleseg.models.bitdiffusion.bits import BitLayout, encode_panoptic
from rleseg.models.bitdiffusion.net import BitDiffusionNet
from rleseg.models.bitdiffusion.schedule import add_noise, gamma_cosine

LAYOUT = BitLayout(2, 6)
SCALE = 0.1


class Capture(nn.Module):
    """A decoder that remembers its input and returns zero logits."""

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        self.seen = x
        return x.new_zeros(x.shape[0], 2**2 + 2**6, *x.shape[-2:])


def seen_bits(normalize: bool, t: float) -> torch.Tensor:
    """The first K channels the decoder receives for random ids noised to time ``t``."""
    torch.manual_seed(0)
    decoder = Capture()
    net = BitDiffusionNet(nn.Identity(), decoder, LAYOUT, "softmax", SCALE, normalize_input=normalize)  # type: ignore[arg-type]
    classes, instances = torch.randint(0, 4, (4, 16, 16)), torch.randint(0, 64, (4, 16, 16))
    x0 = encode_panoptic(classes, instances, LAYOUT, SCALE)
    gamma = gamma_cosine(torch.full((4,), t))
    x_t = add_noise(x0, gamma, torch.randn_like(x0))
    features: Any = (torch.zeros(4, 3, 16, 16), torch.zeros(4, 1, 8))
    net.logits(x_t, gamma, features)
    seen: torch.Tensor = decoder.seen[:, : LAYOUT.channels]
    if not normalize:
        assert torch.equal(seen, x_t)
    return seen


@pytest.mark.parametrize("t", [0.02, 0.3, 0.7, 0.99])
def test_normalized_input_has_unit_variance_at_every_noise_level(t: float) -> None:
    assert seen_bits(True, t).std().item() == pytest.approx(1.0, abs=0.05)


def test_without_normalization_a_nearly_clean_input_is_as_small_as_the_scale() -> None:
    assert seen_bits(False, 0.02).std().item() == pytest.approx(SCALE, rel=0.15)


@pytest.mark.parametrize("normalize", [False, True])
def test_previous_frame_bits_are_read_at_unit_scale_only_when_normalized(normalize: bool) -> None:
    decoder = Capture()
    net = BitDiffusionNet(  # type: ignore[arg-type]
        nn.Identity(), decoder, LAYOUT, "softmax", SCALE, previous_frames=1, normalize_input=normalize
    )
    classes, instances = torch.randint(0, 4, (2, 8, 8)), torch.randint(0, 64, (2, 8, 8))
    previous = encode_panoptic(classes, instances, LAYOUT, SCALE)
    x_t = torch.zeros_like(previous)
    features: Any = (torch.zeros(2, 3, 8, 8), torch.zeros(2, 1, 8))
    net.logits(x_t, gamma_cosine(torch.full((2,), 0.5)), features, previous)
    seen = decoder.seen[:, LAYOUT.channels + 3 :]
    assert torch.allclose(seen, previous / SCALE if normalize else previous)
    assert seen.abs().unique().tolist() == [pytest.approx(1.0 if normalize else SCALE)]
