"""The Pix2Seq model: shapes, cached decoding, video middle fusion, structured token initialisation."""

from __future__ import annotations

import pytest
import torch

from rleseg.models.pix2seq import ModelConfig, Pix2SeqModel
from rleseg.models.position import grid_encoding
from rleseg.models.token_init import start_coordinates
from rleseg.tokenizers import create_tokenizer

TINY = ModelConfig(
    backbone="resnet10t", feature_level=-2, dim=32, heads=2, encoder_layers=1, decoder_layers=2, dropout=0.0
)


def test_forward_gives_logits_over_the_vocabulary() -> None:
    tok = create_tokenizer("lac", mask_size=8, num_classes=2)
    model = Pix2SeqModel(tok, TINY)
    logits = model(torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8), torch.randint(0, 10, (2, 7)))
    assert logits.shape == (2, 7, tok.vocab_size)


def test_cached_steps_equal_full_decoding() -> None:
    tok = create_tokenizer("multiclass", mask_size=8, num_classes=3)
    model = Pix2SeqModel(tok, TINY).eval()
    images = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)
    tokens = torch.randint(0, tok.vocab_size, (2, 9))
    with torch.no_grad():
        memory = model.encode(images)
        full = model.decode(tokens, memory)
        cache = model.new_cache()
        steps = [model.decode_step(tokens[:, i : i + 1], memory, cache, offset=i) for i in range(9)]
    assert torch.allclose(torch.stack(steps, 1), full, atol=1e-4)


def test_decoding_is_causal() -> None:
    tok = create_tokenizer("lac", mask_size=8, num_classes=2)
    model = Pix2SeqModel(tok, TINY).eval()
    images = torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8)
    a = torch.randint(3, tok.vocab_size, (1, 6))
    b = a.clone()
    b[0, 4:] = 3
    with torch.no_grad():
        memory = model.encode(images)
        assert torch.allclose(model.decode(a, memory)[:, :4], model.decode(b, memory)[:, :4], atol=1e-5)


def test_video_clips_use_every_frame_unless_static_input() -> None:
    tok = create_tokenizer("tac", mask_size=8, num_classes=2, num_frames=2)
    clip = torch.randint(0, 255, (1, 2, 3, 64, 64), dtype=torch.uint8)
    other = clip.clone()
    other[:, 1] = 0
    tokens = torch.randint(0, tok.vocab_size, (1, 5))
    model = Pix2SeqModel(tok, TINY).eval()
    with torch.no_grad():
        assert model.encode(clip).shape[1] == 2 * model.encode(clip[:, 0]).shape[1]
        assert not torch.allclose(model(clip, tokens), model(other, tokens))
    static = Pix2SeqModel(tok, ModelConfig(**{**TINY.to_dict(), "static_input": True})).eval()
    with torch.no_grad():
        assert torch.allclose(static(clip, tokens), static(other, tokens))


def test_start_tokens_begin_as_the_encoding_of_their_pixel() -> None:
    tok = create_tokenizer("binary", mask_size=(4, 6), order="col")
    y, x = start_coordinates(tok)
    # column-major: start 1 is row 1 of column 0, start 4 is row 0 of column 1
    assert (y[1], x[1]) == (1.5 / 4, 0.5 / 6) and (y[4], x[4]) == (0.5 / 4, 1.5 / 6)
    model = Pix2SeqModel(tok, ModelConfig(**{**TINY.to_dict(), "dim": 32}))
    starts = tok.vocab["starts"]
    grid = grid_encoding(4, 6, 32)  # row-major grid of the same mask
    assert torch.allclose(model.embed.weight[starts.start + 4], grid[0 * 6 + 1], atol=1e-5)


def test_bad_options_are_refused() -> None:
    tok = create_tokenizer("lac", mask_size=8, num_classes=2)
    with pytest.raises(ValueError, match="token_init"):
        Pix2SeqModel(tok, ModelConfig(**{**TINY.to_dict(), "token_init": "zeros"}))
    with pytest.raises(ValueError, match="timm backbone"):
        Pix2SeqModel(tok, ModelConfig(**{**TINY.to_dict(), "backbone": "no-such-net"}))
