"""The learning-rate schedule: warmup, linear decay, and re-targeting to a time budget."""

from __future__ import annotations

import pytest
import torch

from rleseg.training.schedule import WarmupLinearDecay, warmup_linear_decay


def test_warmup_then_linear_decay_to_zero() -> None:
    f = WarmupLinearDecay(total_steps=10, warmup_steps=4)
    assert [f(s) for s in range(4)] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert f(4) == 1.0
    assert f(7) == pytest.approx(0.5)
    assert f(10) == 0.0 and f(15) == 0.0


def test_moving_the_end_stretches_the_decay() -> None:
    f = WarmupLinearDecay(total_steps=10, warmup_steps=0)
    assert f(5) == pytest.approx(0.5)
    f.total = 20
    assert f(5) == pytest.approx(0.75)


def test_lambda_lr_follows_the_schedule() -> None:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = warmup_linear_decay(opt, total_steps=4, warmup_steps=1)
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.5, 1.0, 2 / 3, 1 / 3])
