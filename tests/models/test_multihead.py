"""The multi-headed decoder (paper VI): run-level targets, cached generation, and an end-to-end overfit."""

from __future__ import annotations

import pytest
import torch
from tests.training.training_helpers import no_augment, overfit, squares

from rleseg.config import Config, TokenizerConfig
from rleseg.inference.generate import generate_runs
from rleseg.models import build_model
from rleseg.models.multihead import MultiHeadPix2Seq, runs_to_tokens, tokens_to_runs
from rleseg.models.pix2seq import ModelConfig
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.segmenters.token_batch import token_datamodule
from rleseg.tokenizers import EOS, PAD, create_tokenizer
from rleseg.tokenizers.batch import decode_batch
from rleseg.tokenizers.grammar import make_grammar

TINY = ModelConfig(
    backbone="resnet10t",
    feature_level=-2,
    dim=32,
    heads=2,
    encoder_layers=1,
    decoder_layers=1,
    dropout=0.0,
    multi_head=True,
)


def test_tokens_and_runs_convert_both_ways() -> None:
    targets = torch.tensor(
        [[5, 6, 7, 8, EOS, PAD, PAD], [9, 10, EOS, PAD, PAD, PAD, PAD], [EOS, PAD, PAD, PAD, PAD, PAD, PAD]]
    )
    runs = tokens_to_runs(targets, 2)
    assert runs.tolist() == [
        [[5, 6], [7, 8], [EOS, PAD]],
        [[9, 10], [EOS, PAD], [PAD, PAD]],
        [[EOS, PAD], [PAD, PAD], [PAD, PAD]],
    ]
    flat = runs_to_tokens(runs)
    for row, target in zip(flat.tolist(), targets.tolist(), strict=True):
        assert [t for t in row if t != PAD] == [t for t in target if t != PAD]


def test_only_fixed_tuple_schemes_get_a_multi_headed_decoder() -> None:
    assert isinstance(build_model(create_tokenizer("lac", mask_size=8, num_classes=2), TINY), MultiHeadPix2Seq)
    with pytest.raises(ValueError, match="fixed number of tokens"):
        build_model(create_tokenizer("cw", mask_size=8, num_classes=2), TINY)


@pytest.mark.parametrize("scheme", ["multiclass", "lac"])
def test_multi_head_generation_decodes_with_nothing_dropped(scheme: str) -> None:
    torch.manual_seed(0)
    tok = create_tokenizer(scheme, mask_size=6, num_classes=2)
    model = build_model(tok, TINY).eval()
    images = torch.randint(0, 255, (4, 3, 64, 64), dtype=torch.uint8)
    out = generate_runs(model, images, 20, grammar=make_grammar(tok, max_len=20))
    for row in out:
        _, info = tok.decode(row, return_info=True)
        assert info.num_dropped == 0 and info.stopped_at == "eos"
        assert (row != PAD).sum() <= 20


def test_multi_head_model_overfits_a_handful_of_images() -> None:
    torch.manual_seed(0)
    cfg = Config(tokenizer=TokenizerConfig(name="multiclass", mask_size=8, max_len=64), model=TINY)
    cfg.model.pix2seq.dim = 64
    tok = create_tokenizer("multiclass", mask_size=8, num_classes=2, max_len=64)
    batch = next(iter(token_datamodule(tok, squares(3), windows=no_augment(), batch_size=3).train_dataloader()))
    task = Pix2SeqSegmenter.from_tokenizer(cfg, tok, ["background", "bright", "grey"])
    _, acc = overfit(task, batch)
    assert acc == 1.0
    task.eval()
    assert torch.equal(decode_batch(tok, task.generate_tokens(batch["image"])), batch["mask"])
