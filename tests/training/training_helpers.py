"""Tiny configs and data shared by the training tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from rleseg.config import Config, ModelConfig, TokenizerConfig, TrainSection
from rleseg.data.sample import ListSource, Sample
from rleseg.data.transforms import AugmentConfig
from rleseg.data.windows import WindowConfig
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter


def overfit_model() -> ModelConfig:
    """The model the overfit tests memorise a batch with (large enough to get there in < 300 steps)."""
    return ModelConfig(
        backbone="resnet10t", feature_level=-2, dim=64, heads=4, encoder_layers=1, decoder_layers=2, dropout=0.0
    )


def squares(num: int = 4, size: int = 64, seed: int = 0) -> ListSource:
    """Images of one bright (class 1) and one grey (class 2) square on black."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(num):
        mask = np.zeros((size, size), np.int64)
        for cls in (1, 2):
            y, x = rng.integers(0, size - 24, 2)
            mask[y : y + 16, x : x + 16] = cls
        image = np.repeat(np.where(mask == 1, 250, np.where(mask == 2, 120, 0))[..., None], 3, -1).astype(np.uint8)
        samples.append(Sample(image, mask, None, f"img{i}"))
    return ListSource(samples, ["background", "bright", "grey"])


def tiny_config(out_dir: Path, **train: object) -> Config:
    """A config small enough to train a few steps on a CPU in seconds."""
    cfg = Config(
        tokenizer=TokenizerConfig(name="lac", mask_size=8, max_len=64),
        model=ModelConfig(
            backbone="resnet10t", feature_level=-2, dim=32, heads=2, encoder_layers=1, decoder_layers=1, dropout=0.0
        ),
        train=TrainSection(out_dir=str(out_dir), progress=False, log_every_n_steps=1, lr=1e-3),
    )
    for key, value in train.items():
        setattr(cfg.train, key, value)
    cfg.data.patch_size = None
    cfg.data.batch_size = 4
    return cfg


def no_augment(**windows: Any) -> WindowConfig:
    """Windows without augmentation (rotations and flips off), so a batch is the same every time."""
    return WindowConfig(augment=AugmentConfig(rot90=False, hflip=0, vflip=0), **windows)


def overfit(task: Pix2SeqSegmenter, batch: dict[str, Any], steps: int = 300, lr: float = 2e-3) -> tuple[float, float]:
    """Train ``task`` on one ``batch`` with AdamW until token accuracy 1 and loss < 0.05 (at most ``steps``);
    returns the last (loss, token accuracy)."""
    opt = torch.optim.AdamW(task.parameters(), lr=lr)
    task.train()
    loss = acc = torch.zeros(())
    for _ in range(steps):
        loss, logs = task.loss(batch)
        acc = logs["token_acc"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        if acc.item() == 1.0 and loss.item() < 0.05:
            break
    return loss.item(), acc.item()
