"""Learning-rate schedule: linear warmup then linear decay to zero."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def warmup_linear_decay(optimizer: Optimizer, total_steps: int, warmup_steps: int) -> LambdaLR:
    """Multiplier rising linearly from ~0 to 1 over ``warmup_steps``, then falling linearly to 0 at ``total_steps``."""
    total = max(1, int(total_steps))
    warm = max(0, min(int(warmup_steps), total - 1))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / (warm + 1)
        return max(0.0, (total - step) / max(1, total - warm))

    return LambdaLR(optimizer, factor)
