"""End to end: pixels -> tokens -> model -> generated tokens -> masks, on a handful of images it memorises."""

from __future__ import annotations

import torch
from tests.training.training_helpers import no_augment, overfit, overfit_model, squares

from rleseg.config import Config, ModelConfig, TokenizerConfig
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.segmenters.token_batch import token_datamodule
from rleseg.tokenizers import create_tokenizer
from rleseg.tokenizers.batch import decode_batch


def test_overfitting_a_handful_of_images_gives_exact_tokens_and_masks() -> None:
    torch.manual_seed(0)
    cfg = Config(tokenizer=TokenizerConfig(name="lac", mask_size=8, max_len=64), model=overfit_model())
    tok = create_tokenizer("lac", mask_size=8, num_classes=2, max_len=64)
    dm = token_datamodule(tok, squares(3), windows=no_augment(), batch_size=3)
    batch = next(iter(dm.train_dataloader()))
    task = Pix2SeqSegmenter.from_tokenizer(cfg, tok, ["background", "bright", "grey"])
    _, acc = overfit(task, batch)
    assert acc == 1.0, f"token accuracy {acc:.3f} after training"
    task.eval()
    generated = task.generate_tokens(batch["image"])
    masks = decode_batch(tok, generated)
    assert torch.equal(masks, batch["mask"])


def test_overfitting_with_pointer_starts_and_the_dense_loss_gives_exact_masks() -> None:
    torch.manual_seed(0)
    fine = {**overfit_model().to_dict(), "fine_level": 1, "pointer_starts": True, "dense_loss_weight": 0.1}
    cfg = Config(tokenizer=TokenizerConfig(name="lac", mask_size=8, max_len=64), model=ModelConfig(**fine))
    tok = create_tokenizer("lac", mask_size=8, num_classes=2, max_len=64)
    dm = token_datamodule(tok, squares(3), windows=no_augment(), batch_size=3)
    batch = next(iter(dm.train_dataloader()))
    task = Pix2SeqSegmenter.from_tokenizer(cfg, tok, ["background", "bright", "grey"])
    _, acc = overfit(task, batch)
    assert acc == 1.0, f"token accuracy {acc:.3f} after training"
    task.eval()
    masks = decode_batch(tok, task.generate_tokens(batch["image"]))
    assert torch.equal(masks, batch["mask"])
