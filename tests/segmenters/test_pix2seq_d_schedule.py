"""Pix2Seq-D diffusion: the cosine schedule, corruption and DDIM steps against hand-computed numbers, and
sampling with a perfect x0 predictor."""

from __future__ import annotations

import math

import pytest
import torch

from rleseg.models.bitdiffusion.bits import BitLayout, decode_panoptic, encode_panoptic
from rleseg.models.bitdiffusion.schedule import add_noise, ddim_sample, ddim_step, gamma_cosine, step_times


def test_cosine_schedule_by_hand() -> None:
    # gamma(t) = cos(((t + 0.0002) / 1.00025) * pi / 2) ** 2
    # t = 0.5: angle 0.50007498 * pi / 2 = 0.7855157, cos = 0.7070237, squared 0.4998822
    assert gamma_cosine(0.5).item() == pytest.approx(0.4998822, abs=1e-6)
    assert gamma_cosine(0.25).item() == pytest.approx(0.8534007, abs=1e-6)
    assert gamma_cosine(0.0).item() == pytest.approx(1.0, abs=1e-6) and gamma_cosine(1.0).item() < 1e-7
    t = torch.linspace(0, 1, 11)
    assert (gamma_cosine(t).diff() < 0).all(), "gamma falls from data to noise"


def test_corruption_mixes_signal_and_noise() -> None:
    x0 = torch.full((2, 1, 1, 1), 0.1)
    noise = torch.full((2, 1, 1, 1), -1.0)
    x_t = add_noise(x0, torch.tensor([0.25, 1.0]), noise)
    assert x_t.flatten().tolist() == pytest.approx([0.5 * 0.1 - math.sqrt(0.75), 0.1])


def test_one_ddim_step_by_hand() -> None:
    # t 0.5 -> 0.25, x_t = 0.3, x0 predicted 0.5 and clipped to b = 0.1:
    # eps = (0.3 - sqrt(0.4998822) * 0.1) / sqrt(0.5001178) = 0.3242377
    # x_next = sqrt(0.8534007) * 0.1 + sqrt(0.1465993) * eps = 0.0923797 + 0.1241450 = 0.2165247
    out = ddim_step(torch.tensor([[0.3]]), torch.tensor([[0.5]]), 0.5, 0.25, scale=0.1)
    assert out.item() == pytest.approx(0.2165247, abs=1e-6)
    final = ddim_step(torch.tensor([[0.3]]), torch.tensor([[-0.07]]), 0.5, 0.0, scale=0.1)
    assert final.item() == pytest.approx(-0.07, abs=1e-3), "at t = 0 the step lands (nearly) on the prediction"


def test_step_times_with_time_difference() -> None:
    assert [step_times(s, 4, 1.0) for s in range(4)] == [(1.0, 0.5), (0.75, 0.25), (0.5, 0.0), (0.25, 0.0)]
    assert [step_times(s, 2, 0.0) for s in range(2)] == [(1.0, 0.5), (0.5, 0.0)]


@pytest.mark.parametrize("start", ["zeros", "noise"])
def test_sampling_with_a_perfect_predictor_returns_the_mask(start: str) -> None:
    layout = BitLayout(2, 8)
    classes = torch.randint(0, 4, (2, 8, 8))
    instances = torch.randint(0, 256, (2, 8, 8))
    x0 = encode_panoptic(classes, instances, layout, 0.1)
    seen: list[float] = []

    def perfect(x_t: torch.Tensor, gamma: torch.Tensor, x0_previous: torch.Tensor | None) -> torch.Tensor:
        assert x_t.shape == x0.shape and gamma.shape == (2,) and x0_previous is None
        seen.append(float(gamma[0]))
        return x0

    noise = torch.zeros_like(x0) if start == "zeros" else torch.randn_like(x0)
    out = ddim_sample(perfect, noise, steps=5, td=1.0, scale=0.1)
    c, i = decode_panoptic(out, layout)
    assert torch.equal(c, classes) and torch.equal(i, instances)
    assert len(seen) == 5 and seen == sorted(seen) and seen[0] < 1e-7, "from pure noise towards the data"


def test_self_conditioning_gets_the_previous_prediction() -> None:
    got: list[torch.Tensor | None] = []

    def denoise(x_t: torch.Tensor, gamma: torch.Tensor, x0_previous: torch.Tensor | None) -> torch.Tensor:
        got.append(x0_previous)
        return torch.full_like(x_t, 0.05 * len(got))

    ddim_sample(denoise, torch.zeros(1, 2, 1, 1), steps=3, td=0.0, scale=0.1, self_condition=True)
    assert got[0] is not None and (got[0] == 0).all()
    assert got[2] is not None and torch.allclose(got[2], torch.full((1, 2, 1, 1), 0.10))
    with pytest.raises(ValueError, match="at least 1 step, got 0"):
        ddim_sample(denoise, torch.zeros(1, 2, 1, 1), steps=0, td=0.0, scale=0.1)
