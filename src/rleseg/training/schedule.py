"""Learning-rate schedule: linear warmup then linear decay to zero, optionally fitted to a time budget."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


class WarmupLinearDecay:
    """Multiplier rising linearly to 1 over ``warmup_steps``, then falling linearly to 0 at ``total_steps``.

    ``total_steps`` may be moved while training with :meth:`fit_to` (see :class:`FitScheduleToTime`).
    """

    def __init__(self, total_steps: int, warmup_steps: int) -> None:
        self.total = max(1, int(total_steps))
        self.warm = max(0, min(int(warmup_steps), self.total - 1))
        self.warmup_fraction = self.warm / self.total

    def fit_to(self, expected_total: int, step: int) -> None:
        """End the decay at ``expected_total`` (never before ``step + 1``). The warmup shrinks to its fraction
        of the new total when that is shorter (a budget allows fewer steps than the epochs would), but never
        below ``step + 1`` and it never grows, so the learning rate only jumps within the warmup."""
        target_warm = max(step + 1, round(self.warmup_fraction * expected_total))
        self.warm = min(self.warm, target_warm)
        self.total = max(int(expected_total), self.warm + 1, step + 1)

    def __call__(self, step: int) -> float:
        if step < self.warm:
            return (step + 1) / (self.warm + 1)
        return max(0.0, (self.total - step) / max(1, self.total - self.warm))


def warmup_linear_decay(optimizer: Optimizer, total_steps: int, warmup_steps: int) -> LambdaLR:
    """A LambdaLR driven by :class:`WarmupLinearDecay` (its ``lr_lambdas[0]`` can be re-targeted)."""
    return LambdaLR(optimizer, WarmupLinearDecay(total_steps, warmup_steps))


class FitScheduleToTime(L.Callback):
    """With a wall-clock budget, move the schedule's end to the step the budget will actually allow.

    Every ``every`` steps the remaining time is divided by the mean step time so far (validation included),
    so the learning rate reaches 0 when the time runs out instead of at a step count never reached.
    """

    def __init__(self, minutes: float, every: int = 20) -> None:
        self.budget_s = minutes * 60.0
        self.every = every
        self.start: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.monotonic()
        self.first_step = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        step = trainer.global_step
        done = step - self.first_step
        if self.start is None or done < self.every or step % self.every:
            return
        elapsed = time.monotonic() - self.start
        remaining = max(0.0, self.budget_s - elapsed)
        expected = step + int(remaining / (elapsed / done))
        for config in trainer.lr_scheduler_configs:
            for fn in getattr(config.scheduler, "lr_lambdas", []):
                if isinstance(fn, WarmupLinearDecay):
                    fn.fit_to(expected, step)
