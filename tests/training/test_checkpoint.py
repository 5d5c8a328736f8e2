"""Checkpoints carry tokenizer and config, reload to the same model, and resume to the same next-step loss."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from tests.training.training_helpers import squares, tiny_config

from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.tokenizers import create_tokenizer
from rleseg.training.build import build_datamodule, build_trainer


class LossRecorder(L.Callback):
    """Keeps the training loss of every step."""

    def __init__(self) -> None:
        self.losses: dict[int, float] = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        self.losses[trainer.global_step] = float(outputs["loss"])


class StopAfter(L.Callback):
    """Stops training after ``steps`` optimiser steps, as an interruption would."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # type: ignore[no-untyped-def]
        if trainer.global_step >= self.steps:
            trainer.should_stop = True


def run(
    out_dir: Path, max_steps: int, ckpt_path: str | None = None, stop_after: int | None = None
) -> tuple[Pix2SeqSegmenter, LossRecorder]:
    """Train the tiny config on four squares images, one optimiser step per epoch."""
    L.seed_everything(0)
    cfg = tiny_config(out_dir, max_steps=max_steps, max_epochs=100, val_every_n_epochs=1000)
    source = squares()
    tok = create_tokenizer("lac", mask_size=8, num_classes=2, max_len=64)
    task = Pix2SeqSegmenter.from_tokenizer(cfg, tok, list(source.classes))
    dm = build_datamodule(cfg, task, {"train": source})
    recorder = LossRecorder()
    callbacks: list[L.Callback] = [recorder] + ([StopAfter(stop_after)] if stop_after else [])
    trainer = build_trainer(cfg, out_dir, extra_callbacks=callbacks)
    trainer.fit(task, dm, ckpt_path=ckpt_path)
    return task, recorder


def test_checkpoint_carries_tokenizer_config_and_weights(tmp_path: Path) -> None:
    task, _ = run(tmp_path, max_steps=2)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    assert not list((tmp_path / "checkpoints").glob("*.tmp")), "no temporary file is left behind"
    loaded = Pix2SeqSegmenter.load_from_checkpoint(ckpt, map_location="cpu")
    assert loaded.tok == task.tok and loaded.tok.vocab == task.tok.vocab
    assert loaded.cfg == task.cfg and loaded.class_names == ["background", "bright", "grey"]
    for (name, a), (_, b) in zip(task.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_resume_reproduces_the_next_step_loss(tmp_path: Path) -> None:
    _, straight = run(tmp_path / "straight", max_steps=3)
    run(tmp_path / "interrupted", max_steps=3, stop_after=2)
    ckpt = tmp_path / "interrupted" / "checkpoints" / "last.ckpt"
    _, resumed = run(tmp_path / "resumed", max_steps=3, ckpt_path=str(ckpt))
    assert list(resumed.losses) == [3]
    assert resumed.losses[3] == pytest.approx(straight.losses[3], rel=1e-5)


def test_a_checkpoint_with_another_vocabulary_is_refused(tmp_path: Path) -> None:
    task, _ = run(tmp_path, max_steps=1)
    hp = dict(task.hparams)
    hp["vocab"] = create_tokenizer("lac", mask_size=9, num_classes=2).vocab.to_dict()
    with pytest.raises(ValueError, match="vocabulary differs"):
        Pix2SeqSegmenter(**hp)
