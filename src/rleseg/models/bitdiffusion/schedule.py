"""Continuous-time diffusion of analog bits: the cosine schedule, corruption, and DDIM sampling with the
asymmetric time difference ``td`` (Bit Diffusion; Pix2Seq-D Algorithms 2 and 4).

Time ``t`` runs over ``[0, 1]``; ``gamma(t)`` falls from ~1 (data) to ~0 (noise) and
``x_t = sqrt(gamma) x_0 + sqrt(1 - gamma) eps``. The network predicts ``x_0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

NS, DS = 0.0002, 0.00025  # the cosine schedule's small offsets (gamma(0) just under 1, gamma(1) just over 0)


def gamma_cosine(t: torch.Tensor | float) -> torch.Tensor:
    """``gamma(t) = cos(((t + ns) / (1 + ds)) * pi / 2) ** 2`` for times ``(...,)`` in ``[0, 1]``."""
    t = torch.as_tensor(t, dtype=torch.float32)
    return torch.cos(((t + NS) / (1 + DS)) * (math.pi / 2)) ** 2


def _expand(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-example values ``(B,)`` (or a scalar) shaped to broadcast over ``like`` ``(B, ...)``."""
    v = v.to(like.device, like.dtype)
    return v.reshape(-1, *([1] * (like.ndim - 1))) if v.ndim else v


def add_noise(x0: torch.Tensor, gamma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """``x_t = sqrt(gamma) x0 + sqrt(1 - gamma) noise``; ``x0``/``noise`` ``(B, ...)``, ``gamma`` ``(B,)``."""
    g = _expand(gamma, x0)
    return g.sqrt() * x0 + (1 - g).sqrt() * noise


def ddim_step(
    x_t: torch.Tensor, x0_pred: torch.Tensor, t_now: torch.Tensor | float, t_next: torch.Tensor | float, scale: float
) -> torch.Tensor:
    """One DDIM update from time ``t_now`` to ``t_next`` (``(B,)`` or scalars): ``x0_pred`` is clipped to
    ``[-scale, scale]``, the noise it implies is re-used at ``t_next``. Shapes of ``x_t``: ``(B, K, h, w)``."""
    g_now, g_next = _expand(gamma_cosine(t_now), x_t), _expand(gamma_cosine(t_next), x_t)
    x0 = x0_pred.clamp(-scale, scale)
    eps = (x_t - g_now.sqrt() * x0) / (1 - g_now).sqrt()
    return g_next.sqrt() * x0 + (1 - g_next).sqrt() * eps


def step_times(step: int, steps: int, td: float) -> tuple[float, float]:
    """``(t_now, t_next)`` of sampling step ``step`` of ``steps``: ``t_now = 1 - step / steps`` and
    ``t_next = max(1 - (step + 1 + td) / steps, 0)`` (``td`` > 0 looks further ahead than one step)."""
    return 1 - step / steps, max(1 - (step + 1 + td) / steps, 0.0)


Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


def ddim_sample(
    denoise: Denoiser,
    noise: torch.Tensor,
    steps: int,
    td: float,
    scale: float,
    self_condition: bool = False,
) -> torch.Tensor:
    """Sample analog bits from ``noise`` ``(B, K, h, w)`` (the state at t = 1) in ``steps`` DDIM steps.

    ``denoise(x_t, gamma, x0_previous)`` returns the predicted ``x_0`` ``(B, K, h, w)`` for the state ``x_t``
    at noise level ``gamma`` ``(B,)``; ``x0_previous`` is the previous step's prediction (zeros at the first
    step) when ``self_condition``, else None. Returns the last predicted ``x_0`` (threshold it at 0)."""
    if steps < 1:
        raise ValueError(f"sampling needs at least 1 step, got {steps}")
    x_t = noise
    x0 = torch.zeros_like(noise)
    for step in range(steps):
        t_now, t_next = step_times(step, steps, td)
        gamma = gamma_cosine(torch.full((noise.shape[0],), t_now))
        x0 = denoise(x_t, gamma.to(noise.device), x0 if self_condition else None)
        x_t = ddim_step(x_t, x0, t_now, t_next, scale)
    return x0
