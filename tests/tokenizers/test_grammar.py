"""The constrained-decoding grammar: what it allows always decodes, and it never blocks a real encoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rleseg.tokenizers import EOS, PAD, PROMPT, create_tokenizer, list_tokenizers
from rleseg.tokenizers.grammar import make_grammar

VIDEO = {"3d-c", "3d-f", "tac", "ltac"}


def grammar_configs() -> list[tuple[str, dict]]:
    """One (scheme, options) pair per scheme and option combination, on a small non-square mask."""
    out = []
    for name in list_tokenizers():
        for num_classes in (1, 3):
            if name == "binary" and num_classes > 1:
                continue
            for order in ("row", "col"):
                base = {"mask_size": (5, 7), "num_classes": num_classes, "order": order}
                if name == "bac":
                    out += [(name, dict(base, classes="token")), (name, dict(base, classes="lac"))]
                    continue
                for starts in ("1d", "2d"):
                    kw = dict(base, starts=starts)
                    if name in VIDEO:
                        kw["num_frames"] = 2
                    out.append((name, kw))
                    if name != "diff":
                        out.append((name, dict(kw, run_order="random")))
    return out


CONFIGS = grammar_configs()
IDS = [f"{n}-{'-'.join(str(v) for v in kw.values())}" for n, kw in CONFIGS]


def random_input(tok, rng: np.random.Generator):
    shape = tok.mask_shape
    mask = rng.integers(1, tok.num_classes + 1, size=shape) * (rng.random(shape) < 0.4)
    if tok.instance_aware:
        return mask, np.where(mask > 0, rng.integers(1, 3, size=shape) * 10 + mask, 0)
    return mask


def sample_constrained(grammar, batch: int, steps: int, gen: torch.Generator) -> list[list[int]]:
    """Sample uniformly among allowed tokens until every sequence wrote EOS (or ``steps`` ran out)."""
    state = grammar.init_state(batch)
    seqs: list[list[int]] = [[] for _ in range(batch)]
    for _ in range(steps):
        allowed = grammar.allowed(state)
        assert allowed.any(dim=1).all(), "a sequence was left with no allowed token"
        nxt = torch.multinomial(allowed.float(), 1, generator=gen)[:, 0]
        for b in range(batch):
            if not state.done[b]:
                seqs[b].append(int(nxt[b]))
        state = grammar.step(state, nxt)
        if bool(state.done.all()):
            break
    return seqs


@pytest.mark.parametrize(("name", "kw"), CONFIGS, ids=IDS)
def test_constrained_sequences_decode_with_nothing_dropped(name: str, kw: dict) -> None:
    tok = create_tokenizer(name, **kw)
    gen = torch.Generator().manual_seed(0)
    for max_len in (8, 25):
        grammar = make_grammar(tok, max_len=max_len)
        for seq in sample_constrained(grammar, 24, max_len, gen):
            assert len(seq) <= max_len
            assert seq[-1] == EOS, "the budget must always leave room for EOS"
            _, info = tok.decode(np.array(seq), return_info=True)
            assert info.num_dropped == 0, (seq, dict(info.dropped))


@pytest.mark.parametrize(("name", "kw"), CONFIGS, ids=IDS)
def test_grammar_accepts_every_real_encoding(name: str, kw: dict) -> None:
    tok = create_tokenizer(name, **kw)
    grammar = make_grammar(tok, max_len=4096)
    rng = np.random.default_rng(1)
    for _ in range(4):
        tokens = tok.encode(random_input(tok, rng))
        state = grammar.init_state(1)
        for j, t in enumerate(tokens.tolist()):
            assert grammar.allowed(state)[0, t], f"token {j} ({t}) of {tokens.tolist()} rejected"
            state = grammar.step(state, torch.tensor([t]))
        assert bool(state.done[0])


def test_allowed_next_matches_incremental_state_and_skips_prompt() -> None:
    tok = create_tokenizer("lac", mask_size=6, num_classes=2)
    grammar = make_grammar(tok, max_len=40)
    tokens = tok.encode(np.eye(6, dtype=np.int64) * 2)
    prefixes = torch.tensor([[PROMPT, *tokens[:4].tolist()], [PROMPT, *tokens[:3].tolist(), PAD]])
    # the second row's PAD ends it: only PAD may follow
    allowed = grammar.allowed_next(prefixes)
    state = grammar.init_state(1)
    for t in tokens[:4].tolist():
        state = grammar.step(state, torch.tensor([t]))
    assert torch.equal(allowed[0], grammar.allowed(state)[0])
    assert allowed[1].nonzero().flatten().tolist() == [PAD]


def test_raster_grammar_forbids_starts_before_previous_run_end() -> None:
    tok = create_tokenizer("binary", mask_size=4)
    grammar = make_grammar(tok)
    starts = tok.vocab["starts"]
    state = grammar.init_state(1)
    for t in (starts.start + 5, tok.vocab["lengths"].start + 2):  # run at 5 of length 3 (to the row end)
        state = grammar.step(state, torch.tensor([t]))
    allowed = grammar.allowed(state)[0, starts.start : starts.stop]
    assert allowed.nonzero().flatten().tolist() == list(range(8, 16))


def test_length_is_bounded_by_the_line_end() -> None:
    tok = create_tokenizer("binary", mask_size=(3, 5), order="col")  # lines are columns of 3
    grammar = make_grammar(tok)
    state = grammar.step(grammar.init_state(1), torch.tensor([tok.vocab["starts"].start + 4]))  # offset 1
    lengths = grammar.allowed(state)[0, tok.vocab["lengths"].start : tok.vocab["lengths"].stop]
    assert lengths.tolist() == [True, True, False]


def test_cw_classes_increase_and_groups_must_close() -> None:
    tok = create_tokenizer("cw", mask_size=4, num_classes=3)
    grammar = make_grammar(tok, max_len=6)
    v = tok.vocab
    state = grammar.init_state(1)
    for t in (v["starts"].start, v["lengths"].start, v["classes"].start + 1):  # a run closed by class 2
        state = grammar.step(state, torch.tensor([t]))
    allowed = grammar.allowed(state)[0]
    assert allowed[v["classes"].start : v["classes"].stop].tolist() == [False, False, False]  # no open group
    state = grammar.step(state, torch.tensor([v["starts"].start + 1]))
    state = grammar.step(state, torch.tensor([v["lengths"].start]))
    allowed = grammar.allowed(state)[0]
    # budget 6: 5 written, only the terminator fits, and only a class above 2
    assert allowed.nonzero().flatten().tolist() == [v["classes"].start + 2]


def test_grammar_refuses_an_unusable_vocabulary() -> None:
    tok = create_tokenizer("ltac", mask_size=80, num_classes=2, num_frames=16)
    with pytest.raises(ValueError, match="too large"):
        make_grammar(tok)
