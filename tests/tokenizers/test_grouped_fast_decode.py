"""``cw`` / ``iw`` decoding: well-formed sequences take the vectorised path, which gives exactly the groups,
runs and masks of the per-group path; anything malformed takes the per-group path (which records drops)."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import MASK_KINDS, make_instances, make_mask

from rleseg.tokenizers import EOS, create_tokenizer
from rleseg.tokenizers.base import DecodeInfo
from rleseg.tokenizers.grouped import GroupedRLETokenizer


def _groups_both_ways(tok: GroupedRLETokenizer, body: np.ndarray) -> tuple[object, object, DecodeInfo]:
    roles = tok.vocab.range_of(body)
    is_term = np.isin(roles, [tok.vocab.names.index(n) for n in tok.terminator_ranges])
    info = DecodeInfo()
    return tok._well_formed_groups(body, roles, is_term), tok._parse_groups(body, roles, is_term, info), info


def _sample(tok: GroupedRLETokenizer, kind: str, rng: np.random.Generator) -> object:
    mask = make_mask(tok.mask_shape, tok.num_classes, kind, rng)
    return (mask, make_instances(mask, tok.num_classes, rng)) if tok.instance_aware else mask


@pytest.mark.parametrize("name", ["cw", "iw"])
@pytest.mark.parametrize("order", ["row", "col"])
@pytest.mark.parametrize("starts", ["1d", "2d"])
@pytest.mark.parametrize("kind", MASK_KINDS)
def test_well_formed_sequences_decode_the_same_both_ways(name: str, order: str, starts: str, kind: str) -> None:
    rng = np.random.default_rng(hash((name, order, starts, kind)) % 2**32)
    tok = create_tokenizer(name, mask_size=(9, 13), num_classes=3, order=order, starts=starts)
    assert isinstance(tok, GroupedRLETokenizer)
    for _ in range(5):
        x = _sample(tok, kind, rng)
        body = tok.encode(x)[:-1]
        fast, slow, info = _groups_both_ways(tok, body)
        if body.size == 0:
            assert fast is None and slow.counts.size == 0  # type: ignore[attr-defined]
            continue
        assert fast is not None, "a sequence the tokenizer wrote must take the vectorised path"
        for field in ("starts", "lengths", "counts", "terms"):
            assert np.array_equal(getattr(fast, field), getattr(slow, field)), field
        assert info.num_dropped == 0
        decoded, dinfo = tok.decode(tok.encode(x), return_info=True)
        assert dinfo.num_dropped == 0 and dinfo.num_runs == int(fast.starts.size)
        if tok.instance_aware:
            assert np.array_equal(decoded[0], x[0])  # type: ignore[index]
        else:
            assert np.array_equal(decoded, x)


@pytest.mark.parametrize("name", ["cw", "iw"])
def test_malformed_sequences_take_the_per_group_path(name: str) -> None:
    tok = create_tokenizer(name, mask_size=8, num_classes=2)
    assert isinstance(tok, GroupedRLETokenizer)
    mask = np.zeros((8, 8), np.int64)
    mask[1, 2:5] = 1
    mask[5, 0:3] = 2
    x = (mask, np.where(mask > 0, mask, 0)) if tok.instance_aware else mask
    body = tok.encode(x)[:-1]
    term = body[-1]
    start, length = body[0], body[1]
    broken = {
        "unterminated": np.concatenate([body, [start, length]]),
        "empty group": np.concatenate([body, [term]]),
        "incomplete run": np.concatenate([body[:1], body[2:]]),
        "past the line end": np.concatenate([[start + 4, length, term], body]),  # columns 6..8 of 8
    }
    for what, seq in broken.items():
        fast, slow, info = _groups_both_ways(tok, seq)
        assert fast is None, what
        assert info.num_dropped > 0, what
        _, dinfo = tok.decode(np.concatenate([seq, [EOS]]), return_info=True)
        assert dinfo.num_dropped == info.num_dropped, what
