"""Validation every N optimizer steps, across epochs of a few steps (small datasets)."""

from __future__ import annotations

import csv
from pathlib import Path

import torch
from tests.training.training_helpers import squares, tiny_config

from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.training.build import build_datamodule, build_trainer


def test_validation_runs_every_n_steps_whatever_the_epoch_length(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, max_steps=7, max_epochs=100, val_every_n_steps=3)
    cfg.data.batch_size = 4  # 4 images of one window each: one step per epoch
    cfg.train.val_max_batches = 1
    model = Pix2SeqSegmenter.create(cfg, ["background", "bright", "grey"])
    trainer = build_trainer(cfg, tmp_path)
    trainer.fit(model, build_datamodule(cfg, model, {"train": squares(4), "val": squares(2, seed=1)}))
    assert trainer.global_step == 7 and trainer.current_epoch >= 6
    with (tmp_path / "logs" / "metrics.csv").open() as f:
        val_steps = [int(row["step"]) for row in csv.DictReader(f) if row.get("val/loss")]
    assert val_steps == [2, 5, 6], f"validations after steps 3 and 6 and the final step 7, got rows at {val_steps}"
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 7, "last.ckpt holds the final weights, also between validation steps"


def test_max_steps_inside_an_epoch_still_validates_the_final_weights(tmp_path: Path) -> None:
    """max_steps ends training in the middle of an epoch: the final weights are validated (a candidate for
    best.ckpt) and saved as last.ckpt."""
    cfg = tiny_config(tmp_path, max_steps=3, max_epochs=100)
    cfg.data.batch_size = 2  # 4 images of one window each: two steps per epoch, the third step ends mid-epoch
    cfg.train.val_max_batches = 1
    model = Pix2SeqSegmenter.create(cfg, ["background", "bright", "grey"])
    trainer = build_trainer(cfg, tmp_path)
    trainer.fit(model, build_datamodule(cfg, model, {"train": squares(4), "val": squares(2, seed=1)}))
    assert trainer.global_step == 3
    with (tmp_path / "logs" / "metrics.csv").open() as f:
        val_steps = [int(row["step"]) for row in csv.DictReader(f) if row.get("val/loss")]
    assert val_steps == [1, 2], f"validations after epoch 1 (step 2) and the final step 3, got rows at {val_steps}"
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["global_step"] == 3
