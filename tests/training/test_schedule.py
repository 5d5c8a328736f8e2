"""The learning-rate schedule: warmup, linear decay, and re-targeting to a time budget."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tests.training.training_helpers import squares, tiny_config

from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.training.build import build_datamodule, build_trainer
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


def test_fitting_to_a_shorter_budget_shrinks_the_warmup_to_its_fraction() -> None:
    f = WarmupLinearDecay(total_steps=10_000, warmup_steps=500)  # 5 %, planned for 10,000 steps
    f.fit_to(expected_total=1_000, step=20)  # the time budget allows only 1,000
    assert f.warm == 50 and f.total == 1_000
    assert f(49) == pytest.approx(50 / 51) and f(50) == 1.0 and f(1_000) == 0.0
    f.fit_to(expected_total=5_000, step=40)  # a longer estimate later never lengthens the warmup again
    assert f.warm == 50 and f.total == 5_000


def test_fitting_never_ends_the_warmup_before_the_current_step() -> None:
    f = WarmupLinearDecay(total_steps=10_000, warmup_steps=500)
    f.fit_to(expected_total=100, step=30)  # 5 % of 100 = 5, but 30 steps have passed
    assert f.warm == 31 and f(30) == pytest.approx(31 / 32)
    f.fit_to(expected_total=10, step=60)
    assert f.total == 61 and f(61) == 0.0


def test_a_time_budget_ends_training_when_no_epoch_limit_is_set(tmp_path: Path) -> None:
    """A small dataset under a time budget trains until the budget ends (no default epoch limit), lr decaying to
    ~0; an explicit max_epochs still limits it."""
    import time

    cfg = tiny_config(tmp_path, max_time_minutes=0.08, val_every_n_epochs=1000, warmup_fraction=0.1)
    source = squares(2)
    model = Pix2SeqSegmenter.create(cfg, list(source.classes))
    trainer = build_trainer(cfg, tmp_path)
    start = time.monotonic()
    trainer.fit(model, build_datamodule(cfg, model, {"train": source}))
    assert time.monotonic() - start >= 0.08 * 60 * 0.9
    assert trainer.current_epoch > 1, "one epoch of one batch would have ended after one step"
    (scheduler,) = trainer.lr_scheduler_configs
    last_lr = scheduler.scheduler.get_last_lr()[0]
    assert last_lr < 0.25 * cfg.train.lr, "the decay is fitted to the budget"
    cfg.train.max_epochs = 2
    limited = build_trainer(cfg, tmp_path / "limited")
    limited.fit(model, build_datamodule(cfg, model, {"train": source}))
    assert limited.current_epoch == 2 and limited.global_step == 2
