"""Every scheme, every option combination: decode(encode(m)) == m exactly, and the sequence is well formed."""

from __future__ import annotations

import json

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import (
    CONFIG_IDS,
    CONFIGS,
    CUMULATIVE_SCHEMES,
    GROUPED_SCHEMES,
    assert_roundtrip,
    class_choices,
    encode_input,
    frame_choices,
    make_mask,
    make_tokenizer,
    scheme_options,
    tokenizer_and_input,
)

from rleseg.tokenizers import EOS, PAD, PROMPT, create_tokenizer, list_tokenizers

RANDOM_CONFIGS = [(n, o) for n, o in CONFIGS if o.get("run_order") == "random"]
RANDOM_IDS = [i for i, (_, o) in zip(CONFIG_IDS, CONFIGS, strict=True) if o.get("run_order") == "random"]


@pytest.mark.parametrize(("name", "opts"), CONFIGS, ids=CONFIG_IDS)
@settings(max_examples=30)
@given(data=st.data())
def test_decode_inverts_encode(name: str, opts: dict, data: st.DataObject) -> None:
    tok, x = data.draw(tokenizer_and_input(name, opts))
    tokens, einfo = tok.encode(x, return_info=True)
    assert_roundtrip(tok, x, tokens)
    assert not einfo.truncated
    _, dinfo = tok.decode(tokens, return_info=True)
    assert dinfo.num_runs == einfo.num_runs == einfo.runs_kept


@pytest.mark.parametrize("name", list_tokenizers())
@settings(max_examples=40)
@given(data=st.data())
def test_decode_inverts_encode_on_arbitrary_arrays(name: str, data: st.DataObject) -> None:
    """Pixel-by-pixel hypothesis arrays (shrinkable to a minimal failing mask), options drawn too."""
    opts = data.draw(st.sampled_from(scheme_options(name)))
    num_classes = data.draw(st.sampled_from(class_choices(name)))
    frames = data.draw(st.sampled_from(frame_choices(name)))
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6))
    full_shape = (frames, *shape) if frames > 1 else shape
    mask = data.draw(hnp.arrays(np.int64, full_shape, elements=st.integers(0, num_classes)))
    tok = make_tokenizer(name, opts, shape, num_classes, frames)
    if tok.instance_aware:
        inst = data.draw(hnp.arrays(np.int64, full_shape, elements=st.integers(0, 3)))
        x = (mask, np.where(mask > 0, inst * (num_classes + 1) + mask, 0) * (inst > 0))
    else:
        x = mask
    assert_roundtrip(tok, x, tok.encode(x))


@pytest.mark.parametrize(("name", "opts"), CONFIGS, ids=CONFIG_IDS)
@settings(max_examples=10)
@given(data=st.data())
def test_encoding_is_runs_then_one_eos_inside_the_vocabulary(name: str, opts: dict, data: st.DataObject) -> None:
    tok, x = data.draw(tokenizer_and_input(name, opts))
    tokens, einfo = tok.encode(x, return_info=True)
    assert tokens.dtype == np.int64 and tokens.ndim == 1
    assert tokens[-1] == EOS
    body = tokens[:-1]
    assert not np.isin(body, [PAD, EOS, PROMPT]).any(), "special tokens inside the body"
    assert ((body >= 3) & (body < tok.vocab_size)).all()
    assert (tok.vocab.range_of(body) >= 3).all()
    assert einfo.length == einfo.full_length == tokens.size


@pytest.mark.parametrize(("name", "opts"), CONFIGS, ids=CONFIG_IDS)
def test_to_dict_rebuilds_an_equal_tokenizer_with_identical_tokens(name: str, opts: dict) -> None:
    rng = np.random.default_rng(3)
    for num_classes in class_choices(name)[:3]:
        for frames in frame_choices(name):
            tok = make_tokenizer(name, opts, (4, 6), num_classes, frames, seed=11)
            d = tok.to_dict()
            again = create_tokenizer(**d)
            via_json = create_tokenizer(**json.loads(json.dumps(d)))
            assert again == tok and via_json == tok
            assert again.vocab == tok.vocab and again.to_dict() == d
            x = encode_input(tok, make_mask(tok.mask_shape, num_classes, "noisy", rng), rng)
            expected = tok.encode(x)
            np.testing.assert_array_equal(again.encode(x), expected)
            np.testing.assert_array_equal(via_json.encode(x), expected)


def test_tokenizers_with_different_options_are_not_equal() -> None:
    base = create_tokenizer("lac", mask_size=8, num_classes=2)
    assert base == create_tokenizer("lac", mask_size=(8, 8), num_classes=2)
    for other in (
        create_tokenizer("lac", mask_size=8, num_classes=3),
        create_tokenizer("lac", mask_size=8, num_classes=2, order="col"),
        create_tokenizer("lac", mask_size=(8, 9), num_classes=2),
        create_tokenizer("lac", mask_size=8, num_classes=2, max_len=100),
        create_tokenizer("multiclass", mask_size=8, num_classes=2),
    ):
        assert other != base


@pytest.mark.parametrize(("name", "opts"), RANDOM_CONFIGS, ids=RANDOM_IDS)
def test_random_run_order_round_trips_and_is_deterministic_for_a_seed(name: str, opts: dict) -> None:
    num_classes, frames = class_choices(name)[-1], frame_choices(name)[-1]
    a = make_tokenizer(name, opts, (6, 7), num_classes, frames, seed=123)
    b = make_tokenizer(name, opts, (6, 7), num_classes, frames, seed=123)
    raster = make_tokenizer(name, dict(opts, run_order="raster"), (6, 7), num_classes, frames)
    rng = np.random.default_rng(5)
    differs = False
    for _ in range(3):
        x = encode_input(a, make_mask(a.mask_shape, num_classes, "noisy", rng), rng)
        ta, tb = a.encode(x), b.encode(x)
        np.testing.assert_array_equal(ta, tb)  # same seed, same sequence of calls: same tokens
        assert_roundtrip(a, x, ta)
        tr = raster.encode(x)
        assert sorted(ta.tolist()) == sorted(tr.tolist()), "random order must only reorder the tokens"
        differs |= not np.array_equal(ta, tr)
        gen_a, gen_b = np.random.default_rng(7), np.random.default_rng(7)
        np.testing.assert_array_equal(a.encode(x, rng=gen_a), a.encode(x, rng=gen_b))
    assert differs, "random run order never changed the order of a noisy mask's runs"


@pytest.mark.parametrize("name", [n for n in list_tokenizers() if n not in CUMULATIVE_SCHEMES + GROUPED_SCHEMES])
def test_random_run_order_writes_the_same_run_tuples(name: str) -> None:
    opts = dict(scheme_options(name)[0], run_order="random")
    num_classes = class_choices(name)[-1]
    frames = frame_choices(name)[-1]
    rng = np.random.default_rng(9)
    shuffled = make_tokenizer(name, opts, (6, 7), num_classes, frames)
    raster = make_tokenizer(name, dict(opts, run_order="raster"), (6, 7), num_classes, frames)
    mask = make_mask(shuffled.mask_shape, num_classes, "noisy", rng)
    k = shuffled.tokens_per_run
    runs_shuffled = shuffled.encode(mask)[:-1].reshape(-1, k)
    runs_raster = raster.encode(mask)[:-1].reshape(-1, k)
    assert sorted(map(tuple, runs_shuffled.tolist())) == sorted(map(tuple, runs_raster.tolist()))


@pytest.mark.parametrize("name", list_tokenizers())
def test_accepts_bool_unsigned_and_torch_masks(name: str) -> None:
    num_classes = class_choices(name)[-1]
    tok = make_tokenizer(name, scheme_options(name)[0], (5, 6), num_classes, frame_choices(name)[0])
    rng = np.random.default_rng(4)
    mask = make_mask(tok.mask_shape, num_classes, "blobby", rng)
    variants = [mask.astype(np.uint8), mask.astype(np.int32), torch.from_numpy(mask)]
    if num_classes == 1:
        variants.append(mask.astype(bool))
    inst = encode_input(tok, mask, rng)[1] if tok.instance_aware else None
    expected = tok.encode((mask, inst) if tok.instance_aware else mask)
    for m in variants:
        x = (m, inst) if tok.instance_aware else m
        np.testing.assert_array_equal(tok.encode(x), expected)


@pytest.mark.parametrize("name", list_tokenizers())
def test_decode_accepts_lists_tensors_a_prompt_and_padding(name: str) -> None:
    num_classes = class_choices(name)[-1]
    tok = make_tokenizer(name, scheme_options(name)[0], (5, 6), num_classes, frame_choices(name)[0])
    rng = np.random.default_rng(8)
    x = encode_input(tok, make_mask(tok.mask_shape, num_classes, "blobby", rng), rng)
    tokens = tok.encode(x)
    framed = np.concatenate([[PROMPT], tokens, [PAD, PAD, 17]])
    for seq in (tokens.tolist(), torch.from_numpy(tokens), framed, framed.astype(np.int32)):
        assert_roundtrip(tok, x, seq)
    _, info = tok.decode(framed, return_info=True)
    assert info.num_tokens == tokens.size - 1 and info.ignored_after_stop == 3
    # without EOS, a sequence cut short of its end by PAD decodes the same
    _, info = tok.decode(np.concatenate([tokens[:-1], [PAD]]), return_info=True)
    assert info.stopped_at == "pad" and info.num_dropped == 0
