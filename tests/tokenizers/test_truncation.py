"""The budget ``max_len`` (EOS included): sequences are cut at a run boundary, never inside a run, groups
stay closed, the cut is reported in EncodeInfo, and nothing is cut when the sequence fits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import (
    CONFIG_IDS,
    CONFIGS,
    GROUPED_SCHEMES,
    make_tokenizer,
    same_partition,
    tokenizer_and_input,
)

from rleseg.tokenizers import EOS, create_tokenizer

FIXED_TUPLE = ("binary", "multiclass", "lac", "3d-c", "3d-f", "tac", "ltac")


def with_budget(tok, max_len: int):
    """A fresh copy of ``tok`` (same seed, so the same random run order) with budget ``max_len``."""
    return create_tokenizer(**dict(tok.to_dict(), max_len=max_len))


def check_subset(tok, x, decoded) -> None:
    """Every decoded foreground pixel has its original value (and, for iw, its original instance)."""
    if tok.instance_aware:
        (cls, inst), (cls2, inst2) = x, decoded
        kept = cls2 != 0
        np.testing.assert_array_equal(cls2[kept], cls[kept])
        assert same_partition(inst[kept], inst2[kept])
    else:
        kept = decoded != 0
        np.testing.assert_array_equal(decoded[kept], x[kept])


@pytest.mark.parametrize(("name", "opts"), CONFIGS, ids=CONFIG_IDS)
@settings(max_examples=15)
@given(data=st.data())
def test_cut_at_a_run_boundary_within_the_budget(name: str, opts: dict, data: st.DataObject) -> None:
    full_tok, x = data.draw(tokenizer_and_input(name, opts))
    full, full_info = full_tok.encode(x, return_info=True)
    lowest = full_tok.min_tokens_per_run + 1  # one run and EOS
    max_len = data.draw(st.integers(lowest, max(lowest, full.size + 2)), label="max_len")
    tok = with_budget(full_tok, max_len)
    tokens, info = tok.encode(x, return_info=True)

    assert tokens.size <= max_len and tokens[-1] == EOS and EOS not in tokens[:-1]
    assert info.length == tokens.size and info.full_length == full.size
    assert info.num_runs == full_info.num_runs
    assert info.truncated == (full.size > max_len)
    assert info.runs_cut == info.num_runs - info.runs_kept >= 0
    if not info.truncated:
        np.testing.assert_array_equal(tokens, full)

    decoded, dinfo = tok.decode(tokens, return_info=True)
    assert dinfo.num_dropped == 0, dict(dinfo.dropped)  # whole runs, closed groups: nothing to drop
    assert dinfo.num_runs == info.runs_kept
    check_subset(tok, x, decoded)

    body, full_body = tokens[:-1], full[:-1]
    if name in FIXED_TUPLE or name == "bac":
        k = tok.tokens_per_run
        assert body.size % k == 0, "the cut fell inside a run"
        np.testing.assert_array_equal(body, full_body[: body.size])  # a prefix of whole runs
    if name in FIXED_TUPLE and info.truncated:
        assert info.runs_kept == (max_len - 1) // tok.tokens_per_run  # as many runs as fit
    if name in GROUPED_SCHEMES and info.truncated:
        assert max_len - tokens.size < tok.tokens_per_run + 1  # not even one more run and terminator fit


@pytest.mark.parametrize("name", ["binary", "lac", "multiclass", "3d-f", "ltac", "cw", "iw", "bac", "diff"])
def test_exact_fit_is_not_cut_and_one_token_less_is(name: str) -> None:
    tok = make_tokenizer(name, {}, (6, 7), 1 if name == "binary" else 2, 2 if name in ("3d-f", "ltac") else 1)
    rng = np.random.default_rng(0)
    mask = rng.integers(1, tok.num_classes + 1, size=tok.mask_shape) * (rng.random(tok.mask_shape) < 0.4)
    x = (mask, np.zeros_like(mask)) if tok.instance_aware else mask
    full = tok.encode(x)
    exact, info = with_budget(tok, full.size).encode(x, return_info=True)
    np.testing.assert_array_equal(exact, full)
    assert not info.truncated and info.runs_cut == 0
    shorter, info = with_budget(tok, full.size - 1).encode(x, return_info=True)
    assert info.truncated and info.runs_cut >= 1 and shorter.size <= full.size - 1


def test_odd_budget_never_splits_a_three_token_run() -> None:
    tok = create_tokenizer("multiclass", mask_size=8, num_classes=3)
    mask = np.random.default_rng(1).integers(0, 4, size=(8, 8))
    for max_len in range(4, 30):
        tokens, info = with_budget(tok, max_len).encode(mask, return_info=True)
        assert (tokens.size - 1) % 3 == 0
        assert info.runs_kept == (max_len - 1) // 3


def test_grouped_cut_closes_the_partial_group_with_its_own_class() -> None:
    tok = create_tokenizer("cw", mask_size=(2, 8), num_classes=2, max_len=12)
    mask = np.array([[1, 0, 1, 0, 1, 0, 1, 0], [2, 0, 2, 0, 0, 0, 0, 0]])  # class 1: 4 runs, class 2: 2 runs
    tokens, info = tok.encode(mask, return_info=True)
    # budget 11: class 1 whole takes 4*2 + 1 = 9, then 2 left: no room for a run + terminator
    classes = tok.vocab["classes"]
    assert tokens.tolist()[-2] == classes.start  # class 1 closes the sequence
    assert info.runs_kept == 4 and info.runs_cut == 2
    tok = create_tokenizer("cw", mask_size=(2, 8), num_classes=2, max_len=8)
    tokens, info = tok.encode(mask, return_info=True)
    assert info.runs_kept == 3 and tokens.tolist()[-2] == classes.start  # 3 of class 1's runs, closed


def test_iw_cut_keeps_whole_instances_first_then_part_of_one() -> None:
    tok = create_tokenizer("iw", mask_size=(3, 6), num_classes=1, max_len=11)
    classes = np.array([[1, 0, 1, 0, 0, 0], [1, 0, 1, 0, 1, 0], [1, 0, 0, 0, 1, 0]])
    instances = np.array([[1, 0, 2, 0, 0, 0], [1, 0, 2, 0, 3, 0], [1, 0, 0, 0, 3, 0]])
    tokens, info = tok.encode((classes, instances), return_info=True)
    (cls2, inst2), dinfo = tok.decode(tokens, return_info=True)
    assert tokens.size == 11 and dinfo.num_dropped == 0
    # instance 1 (3 runs + class = 7 tokens) fits whole, then one run of instance 2 and its class (3 more)
    np.testing.assert_array_equal(inst2, [[1, 0, 2, 0, 0, 0], [1, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0]])
    assert info.runs_kept == 4 and info.runs_cut == 3


def test_bac_cut_does_not_end_on_background() -> None:
    tok = create_tokenizer("bac", mask_size=(1, 8))
    mask = np.array([[0, 1, 0, 0, 1, 1, 0, 1]])
    for max_len in range(3, 10):
        tokens, info = with_budget(tok, max_len).encode(mask, return_info=True)
        body = tokens[:-1].reshape(-1, 2)
        if body.size:
            assert body[-1, 1] != tok.vocab["bac_classes"].start, "a trailing background run wastes the budget"
        decoded, dinfo = tok.decode(tokens, return_info=True)
        assert dinfo.num_runs == info.runs_kept
        assert info.num_runs == 3


def test_diff_cut_closes_the_last_run() -> None:
    tok = create_tokenizer("diff", mask_size=(1, 9), max_len=4)
    mask = np.array([[0, 1, 1, 0, 1, 1, 1, 0, 1]])
    tokens, info = tok.encode(mask, return_info=True)
    # budget 3: on at 1, off at 3; "on at 4" would need "off at 7" as well, which does not fit
    decoded = tok.decode(tokens)
    np.testing.assert_array_equal(decoded, [[0, 1, 1, 0, 0, 0, 0, 0, 0]])
    assert info.runs_kept == 1 and info.num_runs == 3
