"""Generation: the KV cache changes nothing, sequences stop at EOS, constrained output always decodes."""

from __future__ import annotations

import pytest
import torch

from rleseg.inference.generate import SamplingConfig, choose_tokens, generate
from rleseg.models.pix2seq import ModelConfig, Pix2SeqModel
from rleseg.tokenizers import EOS, PAD, create_tokenizer
from rleseg.tokenizers.grammar import make_grammar

TINY = ModelConfig(
    backbone="resnet10t", feature_level=-2, dim=32, heads=2, encoder_layers=1, decoder_layers=2, dropout=0.0
)


@pytest.fixture(scope="module")
def setup() -> tuple:
    torch.manual_seed(0)
    tok = create_tokenizer("lac", mask_size=8, num_classes=2)
    model = Pix2SeqModel(tok, TINY).eval()
    images = torch.randint(0, 255, (4, 3, 64, 64), dtype=torch.uint8)
    return tok, model, images


def test_cached_generation_equals_uncached(setup: tuple) -> None:
    tok, model, images = setup
    grammar = make_grammar(tok, max_len=40)
    for sampling in (SamplingConfig(), SamplingConfig(greedy=False, top_p=0.9)):
        a = generate(model, images, 40, grammar=grammar, sampling=sampling, generator=torch.Generator().manual_seed(1))
        b = generate(
            model,
            images,
            40,
            grammar=grammar,
            sampling=sampling,
            use_cache=False,
            generator=torch.Generator().manual_seed(1),
        )
        assert torch.equal(a, b)


def test_every_sequence_ends_at_eos_then_pads(setup: tuple) -> None:
    tok, model, images = setup
    out = generate(model, images, 30, grammar=make_grammar(tok, max_len=30))
    assert out.shape[1] <= 30
    for row in out.tolist():
        assert EOS in row
        end = row.index(EOS)
        assert all(t == PAD for t in row[end + 1 :])


def test_generation_stops_when_all_sequences_have_ended(setup: tuple) -> None:
    tok, model, images = setup
    with torch.no_grad():
        model.head.bias[EOS] = 100.0  # make EOS the only sensible first token
    try:
        out = generate(model, images, 50, grammar=make_grammar(tok, max_len=50))
        full = generate(model, images, 50, grammar=make_grammar(tok, max_len=50), stop_at_eos=False)
    finally:
        with torch.no_grad():
            model.head.bias[EOS] = 0.0
    assert out.shape == (4, 1) and (out == EOS).all()
    assert full.shape == (4, 50) and (full[:, 1:] == PAD).all()


@pytest.mark.parametrize("scheme", ["multiclass", "cw", "iw", "bac", "diff"])
def test_constrained_generation_never_drops_a_token(scheme: str) -> None:
    torch.manual_seed(1)
    tok = create_tokenizer(scheme, mask_size=6, num_classes=2)
    model = Pix2SeqModel(tok, TINY).eval()
    images = torch.randint(0, 255, (6, 3, 64, 64), dtype=torch.uint8)
    grammar = make_grammar(tok, max_len=24)
    sampling = SamplingConfig(greedy=False, temperature=2.0)
    out = generate(model, images, 24, grammar=grammar, sampling=sampling, generator=torch.Generator().manual_seed(0))
    for row in out:
        _, info = tok.decode(row, return_info=True)
        assert info.num_dropped == 0 and info.stopped_at == "eos"


def test_top_p_keeps_only_the_nucleus() -> None:
    logits = torch.log(torch.tensor([[0.6, 0.3, 0.1]]))
    gen = torch.Generator().manual_seed(0)
    picks = {int(choose_tokens(logits, SamplingConfig(greedy=False, top_p=0.5), gen)) for _ in range(50)}
    assert picks == {0}
    picks = {int(choose_tokens(logits, SamplingConfig(greedy=False, top_p=0.8), gen)) for _ in range(200)}
    assert picks == {0, 1}
    with pytest.raises(ValueError, match="top_p"):
        SamplingConfig(top_p=0)


def test_sequence_lengths_count_up_to_and_including_eos() -> None:
    import torch

    from rleseg.inference.generate import sequence_lengths
    from rleseg.tokenizers.vocab import EOS, PAD

    tokens = torch.tensor(
        [
            [5, 6, EOS, PAD, PAD],  # 3: two tokens and EOS
            [EOS, PAD, PAD, PAD, PAD],  # 1: only EOS
            [5, 6, 7, 8, 9],  # 5: the budget ran out
            [5, PAD, PAD, PAD, PAD],  # 1: PAD ends it, not counted
            [5, 6, 7, 8, EOS],  # 5: EOS at the last place
        ]
    )
    assert sequence_lengths(tokens).tolist() == [3, 1, 5, 1, 5]
