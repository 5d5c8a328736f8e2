"""The learned bias on attention across a clip's frames (``frame_attention_bias``): its layout, a model that
with a prohibitive bias writes each frame from that frame alone, the cached decoder path, and the refusal for
models that read one frame."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from tests.models.test_per_frame_sequences import PER_FRAME, clip_items, clip_tokenizer

from rleseg.config import Config, TokenizerConfig
from rleseg.models.attention import Attention
from rleseg.models.frame_bias import FrameAttentionBias
from rleseg.models.pix2seq import Pix2SeqModel
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.tokenizers import create_tokenizer


def test_bias_is_zero_within_a_frame_and_the_learned_value_across() -> None:
    bias = FrameAttentionBias(-4.0, heads=2, encoder_layers=1, decoder_layers=2)
    with torch.no_grad():
        bias.encoder[0, 1] = -1.0
    enc = bias.encoder_biases(frames=2, rows=3, dtype=torch.float32)[0]
    assert enc.shape == (1, 2, 6, 6)
    across = torch.ones(6, 6)
    across[:3, :3] = across[3:, 3:] = 0
    torch.testing.assert_close(enc[0, 0], -4.0 * across)
    torch.testing.assert_close(enc[0, 1], -1.0 * across)
    dec = bias.decoder_biases(own_rows=3, other_rows=3, after_rows=2, dtype=torch.float32)[1]
    assert dec.shape == (1, 2, 1, 8)
    torch.testing.assert_close(dec[0, :, 0], torch.tensor([[0, 0, 0, -4, -4, -4, 0, 0]] * 2, dtype=torch.float32))


def test_attention_bias_adds_to_the_logits_and_keeps_key_padding() -> None:
    torch.manual_seed(0)
    attn = Attention(8, heads=2).eval()
    x, ctx = torch.rand(1, 2, 8), torch.rand(1, 3, 8)
    shut = torch.tensor([0.0, -1e9, 0.0]).view(1, 1, 1, 3)
    padded = torch.tensor([[False, True, False]])
    torch.testing.assert_close(attn(x, ctx, bias=shut), attn(x, ctx, key_padding=padded))
    both = attn(x, ctx, bias=torch.tensor([0.0, 0.0, -1e9]).view(1, 1, 1, 3), key_padding=padded)
    torch.testing.assert_close(both, attn(x, ctx[:, :1]))


def model_with_bias(init: float | None) -> Pix2SeqModel:
    torch.manual_seed(0)
    return Pix2SeqModel(clip_tokenizer(max_len=64), dataclasses.replace(PER_FRAME, frame_attention_bias=init)).eval()


def test_a_prohibitive_bias_writes_each_frame_from_that_frame_alone() -> None:
    clips = torch.rand(2, 2, 3, 32, 32)
    changed = clips.clone()
    changed[:, 1] = torch.rand(2, 3, 32, 32)  # only the second frame differs
    inputs = torch.randint(3, 30, (4, 6))
    for init, frame0_moves in ((-1e4, False), (0.0, True)):
        model = model_with_bias(init)
        with torch.no_grad():
            logits = model(clips, inputs).view(2, 2, 6, -1)
            logits2 = model(changed, inputs).view(2, 2, 6, -1)
        moved = (logits - logits2).abs().amax(dim=(0, 2, 3))  # per frame
        assert moved[1] > 1e-3, "frame 1's sequence reads frame 1"
        assert (moved[0] > 1e-4) == frame0_moves, f"bias {init}: frame 0's sequence moved by {moved[0]:.2e}"


def test_a_zero_bias_is_the_model_without_one_and_the_cached_path_agrees() -> None:
    plain, zero = model_with_bias(None), model_with_bias(0.0)
    assert zero.load_state_dict(plain.state_dict(), strict=False).missing_keys == [
        "frame_bias.encoder",
        "frame_bias.decoder",
    ]
    clips, inputs = torch.rand(2, 2, 3, 32, 32), torch.randint(3, 30, (4, 5))
    biased = model_with_bias(-2.0)
    with torch.no_grad():
        torch.testing.assert_close(zero(clips, inputs), plain(clips, inputs))
        memory = biased.encode(clips)
        cache = biased.new_cache()
        steps = torch.stack([biased.decode_step(inputs[:, i : i + 1], memory, cache, i) for i in range(5)], dim=1)
        torch.testing.assert_close(steps, biased.decode(inputs, memory), atol=1e-5, rtol=1e-5)


def test_a_model_reading_one_frame_refuses_the_bias() -> None:
    image_tok = create_tokenizer("lac", mask_size=8, num_classes=2)
    with pytest.raises(ValueError, match=r"frame_attention_bias=-4.0 biases attention across.*\(8, 8\)"):
        Pix2SeqModel(image_tok, dataclasses.replace(PER_FRAME, frame_attention_bias=-4.0))
    static = dataclasses.replace(PER_FRAME, frame_fusion="concat", static_input=True, frame_attention_bias=-4.0)
    with pytest.raises(ValueError, match=r"\(2, 8, 8\), static_input"):
        Pix2SeqModel(clip_tokenizer(), static)


def test_reports_name_the_bias() -> None:
    cfg = Config(tokenizer=TokenizerConfig(name="3d-c", mask_size=8, num_frames=2, classes="lac", max_len=64))
    cfg.model.pix2seq = dataclasses.replace(PER_FRAME, frame_attention_bias=-4.0)
    cfg.data.patch_size = 32
    seg = Pix2SeqSegmenter.create(cfg, ["background", "a", "b"])
    assert "attention across frames biased (learned, from -4)" in dict(seg.describe())["model"]
    with torch.no_grad():  # as if trained: the report says where the biases went and what weight that gives
        seg.model.frame_bias.encoder.fill_(-3.0)
        seg.model.frame_bias.decoder[0, 0] = -5.0
    text = dict(seg.describe())["model"]
    assert "(learned, from -4; now -5.0 to -3.0: another frame's features weigh 0.67-5% of the frame's own" in text
    with torch.no_grad():
        seg.model.frame_bias.decoder.fill_(-3.0)
    assert "now -3.0 to -3.0: another frame's features weigh 5% of" in dict(seg.describe())["model"]
    with torch.no_grad():
        seg.model.frame_bias.encoder[0, 0] = 4.1
    assert (
        "now -3.0 to 4.1: another frame's features weigh 0.05x to 60x the frame's own" in dict(seg.describe())["model"]
    )


def test_the_biases_can_have_a_rate_of_their_own_without_weight_decay() -> None:
    cfg = Config(tokenizer=TokenizerConfig(name="3d-c", mask_size=8, num_frames=2, classes="lac", max_len=64))
    cfg.model.pix2seq = dataclasses.replace(PER_FRAME, frame_attention_bias=-4.0, frame_attention_bias_lr=0.02)
    cfg.data.patch_size = 32
    seg = Pix2SeqSegmenter.create(cfg, ["background", "a", "b"])
    groups = seg.parameter_groups()
    bias = seg.model.frame_bias
    assert [p is q for p, q in zip(groups[-1]["params"], bias.parameters(), strict=True)] == [True, True]
    assert groups[-1]["lr"] == 0.02 and groups[-1]["weight_decay"] == 0.0
    listed = [id(p) for g in groups for p in g["params"]]
    assert sorted(listed) == sorted(id(p) for p in seg.parameters() if p.requires_grad), "each parameter once"
    opt = torch.optim.AdamW(groups, lr=1e-3, weight_decay=0.05)
    bias.encoder.grad = torch.ones_like(bias.encoder)  # Adam's first step: lr times the sign of the gradient
    bias.decoder.grad = -torch.ones_like(bias.decoder)
    opt.step()
    torch.testing.assert_close(bias.encoder.detach(), torch.full_like(bias.encoder, -4.02))
    clip = np.random.default_rng(0).integers(0, 3, (2, 8, 8))
    _, logs = seg.loss(seg.collate()(clip_items([clip])))
    assert logs["frame_bias_max"].item() == pytest.approx(-3.98), "the largest bias is logged (training curves)"
    assert seg.setting_warnings() == [], "the biases have their own rate"
    cfg.model.pix2seq.frame_attention_bias_lr = None
    at_train_lr = Pix2SeqSegmenter.create(cfg, ["background", "a", "b"])
    assert len(at_train_lr.parameter_groups()) == 2, "rest and backbone"
    (warning,) = at_train_lr.setting_warnings()
    assert "frame_attention_bias=-4.0 without frame_attention_bias_lr" in warning and f"({cfg.train.lr:g})" in warning
    cfg.model.pix2seq.frame_attention_bias = None
    assert Pix2SeqSegmenter.create(cfg, ["background", "a", "b"]).setting_warnings() == [], "no biases"
    with pytest.raises(ValueError, match=r"frame_attention_bias_lr=0.02: expected a rate > 0 for the biases.*unset"):
        dataclasses.replace(PER_FRAME, frame_attention_bias=None, frame_attention_bias_lr=0.02)
    with pytest.raises(ValueError, match=r"frame_attention_bias_lr: expected a rate > 0, got 0.0"):
        dataclasses.replace(PER_FRAME, frame_attention_bias=-4.0, frame_attention_bias_lr=0.0)
