"""Two processes (gloo, CPU) train a few steps through Lightning's DDP strategy."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tests.training.training_helpers import squares, tiny_config

from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.tokenizers import create_tokenizer
from rleseg.training.build import build_datamodule, build_trainer


@pytest.mark.slow
def test_two_process_ddp_trains_a_few_steps(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, max_epochs=3, strategy="ddp_spawn", devices="2", accelerator="cpu")
    source = squares(8)
    tok = create_tokenizer("lac", mask_size=8, num_classes=2, max_len=64)
    task = Pix2SeqSegmenter.from_tokenizer(cfg, tok, list(source.classes))
    dm = build_datamodule(cfg, task, {"train": source, "val": squares(2, seed=1)})
    trainer = build_trainer(cfg, tmp_path)
    trainer.fit(task, dm)
    assert trainer.world_size == 2
    # the spawned workers did the training: their last checkpoint records the steps taken
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 3
    assert ckpt["hyper_parameters"]["tokenizer"] == tok.to_dict()
