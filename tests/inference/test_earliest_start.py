"""``generation.earliest_start``: the earliest start nearly as likely as the best one, never a forbidden one."""

from __future__ import annotations

import math

import pytest
import torch
from tests.inference.test_generate import TINY

from rleseg.config import Config, TokenizerConfig
from rleseg.inference.generate import SamplingConfig, choose_tokens, generate
from rleseg.models.pix2seq import Pix2SeqModel
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.tokenizers import EOS, create_tokenizer
from rleseg.tokenizers.grammar import make_grammar

STARTS = (3, 13)  # ten start tokens, ids 3..12


def logits_of(probs: dict[int, float], vocab: int = 16) -> torch.Tensor:
    """One row of logits ``(1, vocab)`` with these token probabilities (the rest -inf: forbidden)."""
    row = torch.full((1, vocab), float("-inf"))
    for token, p in probs.items():
        row[0, token] = math.log(p)
    return row


def pick(probs: dict[int, float], fraction: float | None) -> int:
    cfg = SamplingConfig(earliest_start=fraction, start_range=STARTS if fraction else None)
    return int(choose_tokens(logits_of(probs), cfg, None))


def test_the_earliest_start_at_least_the_fraction_of_the_best_is_taken() -> None:
    probs = {5: 0.02, 6: 0.1, 9: 0.5, 11: 0.3, 14: 0.08}  # best: start 9
    assert pick(probs, None) == 9
    assert pick(probs, 0.5) == 9, "6 has 0.2 of the best: below 0.5; 9 itself is the first at 0.5"
    assert pick(probs, 0.15) == 6
    assert pick(probs, 0.01) == 5
    assert pick(probs, 1.0) == 9


def test_a_best_token_that_is_not_a_start_is_kept() -> None:
    assert pick({EOS: 0.5, 4: 0.3, 7: 0.2}, 0.01) == EOS
    assert pick({14: 0.6, 4: 0.4}, 0.01) == 14, "a length or class token"


def test_forbidden_starts_never_qualify() -> None:
    # start 3 is forbidden (-inf, e.g. before the grammar's cursor): the earliest allowed one is taken
    assert pick({8: 0.6, 10: 0.4}, 1e-6) == 8
    batch = torch.cat([logits_of({8: 0.6, 10: 0.4}), logits_of({EOS: 0.9, 12: 0.1}), logits_of({4: 0.1, 12: 0.9})])
    cfg = SamplingConfig(earliest_start=0.1, start_range=STARTS)
    assert choose_tokens(batch, cfg, None).tolist() == [8, EOS, 4]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match=r"earliest_start must be in \(0, 1\], got 0"):
        SamplingConfig(earliest_start=0, start_range=STARTS)
    with pytest.raises(ValueError, match="cannot be used with sampling"):
        SamplingConfig(greedy=False, earliest_start=0.1, start_range=STARTS)
    with pytest.raises(ValueError, match="start_range"):
        SamplingConfig(earliest_start=0.1)


def test_constrained_generation_with_it_still_decodes_and_starts_no_later() -> None:
    torch.manual_seed(0)
    tok = create_tokenizer("lac", mask_size=8, num_classes=2)
    model = Pix2SeqModel(tok, TINY).eval()
    images = torch.randint(0, 255, (6, 3, 64, 64), dtype=torch.uint8)
    starts = tok.vocab["starts"]
    cfg = SamplingConfig(earliest_start=0.01, start_range=(starts.start, starts.stop))
    out = generate(model, images, 40, grammar=make_grammar(tok, max_len=40), sampling=cfg)
    plain = generate(model, images, 40, grammar=make_grammar(tok, max_len=40))
    for row, ref in zip(out, plain, strict=True):
        _, info = tok.decode(row, return_info=True)
        assert info.num_dropped == 0 and info.stopped_at == "eos"
        first = [int(t) for t in row if starts.start <= t < starts.stop][:1]
        first_ref = [int(t) for t in ref if starts.start <= t < starts.stop][:1]
        if first and first_ref:
            assert first[0] <= first_ref[0], "the first start is never later than plain argmax's"


def test_the_segmenter_passes_it_and_refuses_schemes_without_one_start_token() -> None:
    cfg = Config(tokenizer=TokenizerConfig(name="lac", mask_size=8, max_len=32))
    cfg.model.pix2seq = TINY
    cfg.data.patch_size = 64
    cfg.generation.earliest_start = 0.05
    seg = Pix2SeqSegmenter.create(cfg, ["background", "a", "b"])
    masks = seg.predict_windows(torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)).masks
    assert masks.shape == (2, 8, 8)
    cfg2 = Config(tokenizer=TokenizerConfig(name="lac", mask_size=8, max_len=32, starts="2d"))
    cfg2.model.pix2seq = TINY
    cfg2.data.patch_size = 64
    cfg2.generation.earliest_start = 0.05
    with pytest.raises(ValueError, match=r"earliest_start=0.05 picks among start tokens, but tokenizer lac has no"):
        Pix2SeqSegmenter.create(cfg2, ["background", "a", "b"])  # refused when built, before any training
    cfg.generation.greedy = False
    with pytest.raises(ValueError, match="cannot be used with sampling"):
        Pix2SeqSegmenter.create(cfg, ["background", "a", "b"])


def test_a_predictor_turns_it_on_and_off_for_a_trained_model_and_refuses_what_cannot_take_it() -> None:
    from tests.segmenters.test_smp_losses import CLASSES, tiny

    from rleseg.inference.predictor import Predictor
    from rleseg.segmenters.smp import SmpSegmenter

    cfg = Config(tokenizer=TokenizerConfig(name="lac", mask_size=8, max_len=32))
    cfg.model.pix2seq = TINY
    cfg.data.patch_size = 64
    seg = Pix2SeqSegmenter.create(cfg, ["background", "a", "b"])
    assert "decoding" not in dict(seg.describe())
    Predictor(seg, device="cpu", earliest_start=0.1)
    assert seg.cfg.generation.earliest_start == 0.1 and seg._sampling().earliest_start == 0.1
    assert dict(seg.describe())["decoding"] == "greedy; the earliest start at least 0.1x as likely as the best start"
    Predictor(seg, device="cpu")  # None: the model's setting stays
    assert seg.cfg.generation.earliest_start == 0.1
    Predictor(seg, device="cpu", earliest_start=0)
    assert seg.cfg.generation.earliest_start is None and seg._sampling().start_range is None
    with pytest.raises(ValueError, match=r"earliest_start must be in \[0, 1\] \(0: off\), got 1.5"):
        Predictor(seg, device="cpu", earliest_start=1.5)
    seg.cfg.generation.greedy = False
    with pytest.raises(ValueError, match="cannot be used with sampling"):
        Predictor(seg, device="cpu", earliest_start=0.2)
    assert seg.cfg.generation.earliest_start is None, "a refused setting leaves the model as it was"
    unet = SmpSegmenter.create(tiny(), CLASSES)
    with pytest.raises(ValueError, match="a smp model generates none"):
        Predictor(unet, device="cpu", earliest_start=0.1)
