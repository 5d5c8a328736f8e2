"""End to end: pixels -> tokens -> model -> generated tokens -> masks, on a handful of images it memorises."""

from __future__ import annotations

import torch
from tests.training.training_helpers import squares

from rleseg.config import Config, ModelConfig, TokenizerConfig
from rleseg.data.datamodule import RLESegDataModule
from rleseg.data.transforms import AugmentConfig
from rleseg.data.windows import WindowConfig
from rleseg.tokenizers import create_tokenizer
from rleseg.tokenizers.batch import decode_batch
from rleseg.training.task import Pix2SeqTask


def test_overfitting_a_handful_of_images_gives_exact_tokens_and_masks() -> None:
    torch.manual_seed(0)
    cfg = Config(
        tokenizer=TokenizerConfig(name="lac", mask_size=8, max_len=64),
        model=ModelConfig(
            backbone="resnet10t",
            feature_level=-2,
            dim=64,
            heads=4,
            encoder_layers=1,
            decoder_layers=2,
            dropout=0.0,
        ),
    )
    tok = create_tokenizer("lac", mask_size=8, num_classes=2, max_len=64)
    windows = WindowConfig(augment=AugmentConfig(rot90=False, hflip=0, vflip=0))
    dm = RLESegDataModule(tok, squares(3), windows=windows, batch_size=3)
    batch = next(iter(dm.train_dataloader()))
    task = Pix2SeqTask.create(cfg, tok, ["background", "bright", "grey"])
    opt = torch.optim.AdamW(task.parameters(), lr=2e-3)
    task.train()
    for _ in range(300):
        loss, acc = task._loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if acc.item() == 1.0 and loss.item() < 0.05:
            break
    assert acc.item() == 1.0, f"token accuracy {acc.item():.3f} after training"
    task.eval()
    generated = task.generate_tokens(batch["image"])
    masks = decode_batch(tok, generated)
    assert torch.equal(masks, batch["mask"])
