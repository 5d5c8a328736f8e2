"""Validation every N steps across short epochs (small datasets), and of the final weights however training ends."""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from tests.training.training_helpers import squares, tiny_config

from rleseg.config import Config, TrainSection
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.training.build import build_datamodule, build_trainer
from rleseg.training.final_step import LastCheckpoint


def _fit(cfg: Config, tmp_path: Path) -> L.Trainer:
    """Train a tiny model on 4 square images (one window each), validating on 2 with one batch."""
    cfg.train.val_max_batches = 1
    model = Pix2SeqSegmenter.create(cfg, ["background", "bright", "grey"])
    trainer = build_trainer(cfg, tmp_path)
    trainer.fit(model, build_datamodule(cfg, model, {"train": squares(4), "val": squares(2, seed=1)}))
    return trainer


def _val_steps(tmp_path: Path) -> list[int]:
    """The logged steps of the validation rows of a run's metrics.csv."""
    with (tmp_path / "logs" / "metrics.csv").open() as f:
        return [int(row["step"]) for row in csv.DictReader(f) if row.get("val/loss")]


def test_validation_runs_every_n_steps_whatever_the_epoch_length(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, max_steps=7, max_epochs=100, val_every_n_steps=3)
    cfg.data.batch_size = 4  # 4 images of one window each: one step per epoch
    trainer = _fit(cfg, tmp_path)
    assert trainer.global_step == 7 and trainer.current_epoch >= 6
    val_steps = _val_steps(tmp_path)
    assert val_steps == [2, 5, 6], f"validations after steps 3 and 6 and the final step 7, got rows at {val_steps}"
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 7, "last.ckpt holds the final weights, also between validation steps"


def test_max_steps_inside_an_epoch_still_validates_the_final_weights(tmp_path: Path) -> None:
    """max_steps ends training in the middle of an epoch: the final weights are validated (a candidate for
    best.ckpt) and saved as last.ckpt."""
    cfg = tiny_config(tmp_path, max_steps=3, max_epochs=100)
    cfg.data.batch_size = 2  # 4 images of one window each: two steps per epoch, the third step ends mid-epoch
    trainer = _fit(cfg, tmp_path)
    assert trainer.global_step == 3
    val_steps = _val_steps(tmp_path)
    assert val_steps == [1, 2], f"validations after epoch 1 (step 2) and the final step 3, got rows at {val_steps}"
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 3


def test_the_final_weights_are_validated_in_an_epoch_that_is_not_a_validation_epoch(tmp_path: Path) -> None:
    """val_every_n_epochs=2 (validation after epochs 2, 4 ...): max_steps ends training in epoch 3, which is
    validated all the same."""
    cfg = tiny_config(tmp_path, max_steps=5, max_epochs=100, val_every_n_epochs=2)
    cfg.data.batch_size = 2  # two steps per epoch: step 5 is the first of epoch 3
    trainer = _fit(cfg, tmp_path)
    assert trainer.global_step == 5
    assert _val_steps(tmp_path) == [3, 4], "validations after epoch 2 (step 4) and the final step 5"


def test_a_time_budget_that_ends_before_the_first_validation_epoch_still_validates(tmp_path: Path) -> None:
    """A time budget of a few milliseconds stops training after its first step, in epoch 1 of
    val_every_n_epochs=2: the final weights are validated and best.ckpt is written."""
    cfg = tiny_config(tmp_path, max_time_minutes=1e-5, val_every_n_epochs=2)
    cfg.data.batch_size = 2
    trainer = _fit(cfg, tmp_path)
    assert trainer.global_step == 1 and _val_steps(tmp_path) == [0]
    assert (tmp_path / "checkpoints" / "best.ckpt").is_file()


def test_last_checkpoint_state_keeps_the_key_of_earlier_runs(tmp_path: Path) -> None:
    """Runs saved before LastCheckpoint existed stored its state under ModelCheckpoint's key: resuming finds it."""
    kw = {"dirpath": tmp_path, "save_last": True, "save_top_k": 0, "save_on_train_epoch_end": True}
    assert LastCheckpoint(**kw).state_key == ModelCheckpoint(**kw).state_key
    assert LastCheckpoint(**kw).state_key != ModelCheckpoint(**{**kw, "every_n_train_steps": 3}).state_key


def test_train_checkpoint_final_writes_no_best_checkpoint(tmp_path: Path) -> None:
    """``train.checkpoint: final``: validation runs as before (curves, logs), but the run hands on last.ckpt."""
    cfg = tiny_config(tmp_path, max_steps=3, max_epochs=100, checkpoint="final")
    cfg.data.batch_size = 2
    trainer = _fit(cfg, tmp_path)
    assert trainer.global_step == 3 and _val_steps(tmp_path), "still validated"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["last.ckpt"]
    assert not any(isinstance(cb, ModelCheckpoint) and cb.monitor for cb in trainer.callbacks)  # type: ignore[attr-defined]


def test_train_checkpoint_names_the_choices() -> None:
    with pytest.raises(ValueError, match="train.checkpoint: expected 'best' or 'final', got 'last'"):
        TrainSection(checkpoint="last")
