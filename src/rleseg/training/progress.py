"""How far training has come, as a fraction of whichever limit will end it first."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import Timer


def training_progress(trainer: L.Trainer) -> float:
    """Fraction of training done, in [0, 1]: the largest of the fractions of the time budget (``max_time``),
    of ``max_steps`` and of ``max_epochs`` that the trainer has (training ends at the first limit it meets);
    0 when training has no limit."""
    fractions = [0.0]
    for timer in (c for c in trainer.callbacks if isinstance(c, Timer)):  # type: ignore[attr-defined]
        budget = timer.time_remaining("train")
        if budget is not None:
            elapsed = timer.time_elapsed("train")
            fractions.append(elapsed / max(elapsed + budget, 1e-9))
    if trainer.max_steps and trainer.max_steps > 0:
        fractions.append(trainer.global_step / trainer.max_steps)
    if trainer.max_epochs and trainer.max_epochs > 0:
        fractions.append(trainer.current_epoch / trainer.max_epochs)
    return min(1.0, max(fractions))
