"""The end of training: the final weights are validated (a candidate for ``best.ckpt``) and saved as ``last.ckpt``.

Lightning validates at the end of validation epochs (or every N steps) and when something asks it to stop
(a time budget, early stopping) in a validation epoch, but not when ``max_steps`` ends training inside an
epoch, nor when training stops in an epoch that is not a validation epoch (``check_val_every_n_epoch`` > 1):
the final weights, trained at the lowest learning rate of the decay, were never compared, and ``best.ckpt``
could be epochs older. On the synthetic videos with 900 steps, ``best.ckpt`` was step 575 of 900 and scored
mean Dice 74.4 % against the final weights' 82.2 %.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


class ValidateFinalStep(L.Callback):
    """Validate the final weights, wherever the final step falls. At ``max_steps`` it asks the trainer to stop
    (``trainer.should_stop``), which makes Lightning validate before it ends; whenever training is stopping
    (``max_steps``, the time budget's :class:`~lightning.pytorch.callbacks.Timer`, early stopping) it makes the
    current epoch a validation epoch. It must come after the Timer among the trainer's callbacks (append it
    to ``trainer.callbacks`` once the trainer is built), so that it sees the Timer's decision of this step."""

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if trainer.max_steps > 0 and trainer.global_step >= trainer.max_steps:
            trainer.should_stop = True
        if trainer.should_stop and (trainer.check_val_every_n_epoch or 1) > 1:
            trainer.check_val_every_n_epoch = 1  # training ends after this step: validate in this epoch too


class LastCheckpoint(ModelCheckpoint):
    """``last.ckpt`` on the schedule of :class:`ModelCheckpoint` (e.g. every N steps) and also when training
    ends, whatever the step (Lightning's own end-of-training save only runs when none was saved before)."""

    @property
    def state_key(self) -> str:
        """The key of :class:`ModelCheckpoint`'s state with the same settings, so that checkpoints written before
        this class existed resume with their ``last.ckpt`` state."""
        return super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
