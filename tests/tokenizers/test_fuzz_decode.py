"""Decoding never raises on random, out-of-range and mutated token sequences (what a model emits early on).

Per scheme the sequences are spread over every option combination on a small 6x7 mask (two frames for
video schemes). Five generators: random ints (negative, special and >= vocab_size included), random tokens
from the scheme's ranges, real encodings with every token replaced by a random one of the same range
(well-formed but meaningless: out of bounds, overlapping, out of order), and real encodings mutated by
deletions, insertions, swaps, substitutions, truncation and duplicated runs. For each decode we check the
output's shape and value range, that the drop accounting adds up, and that re-encoding the decoded mask
gives it back (so what decode returns is always a valid mask of the scheme).
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import (
    GROUPED_SCHEMES,
    class_choices,
    encode_input,
    frame_choices,
    make_mask,
    make_tokenizer,
    same_partition,
    scheme_options,
)

from rleseg.tokenizers import EOS, PAD, PROMPT, Tokenizer, list_tokenizers
from rleseg.tokenizers.base import DecodeInfo

FUZZ_SHAPE = (6, 7)
MAX_LEN = 48
KINDS = ("random_ints", "valid_range", "same_range", "mutated", "mutated")


def fuzz_tokenizers(name: str) -> list[Tokenizer]:
    """One tokenizer per option combination, alternating a binary and a 3-class (or 2-frame) setup."""
    toks = []
    for i, opts in enumerate(scheme_options(name)):
        classes = class_choices(name)
        num_classes = classes[0] if i % 2 == 0 else classes[min(2, len(classes) - 1)]
        frames = frame_choices(name)[(i // 2) % len(frame_choices(name))]
        toks.append(make_tokenizer(name, opts, FUZZ_SHAPE, num_classes, frames))
    return toks


# ----- sequence generators -----------------------------------------------------------------------------
def _rows(mat: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    return [row[:n] for row, n in zip(mat, lengths.tolist(), strict=True)]


def random_ints(tok: Tokenizer, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Any ints, specials included, from a little below 0 to a little above the vocabulary."""
    v = tok.vocab_size
    mat = rng.integers(-4, v + 4, size=(n, MAX_LEN))
    huge = rng.random(mat.shape) < 0.02
    mat[huge] = rng.choice([-(2**62), 2**62, np.iinfo(np.int64).min, np.iinfo(np.int64).max], size=huge.sum())
    return _rows(mat, rng.integers(0, MAX_LEN + 1, size=n))


def valid_range(tok: Tokenizer, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Tokens of the scheme's own ranges only (no specials), so the whole sequence is parsed."""
    mat = rng.integers(3, tok.vocab_size, size=(n, MAX_LEN))
    return _rows(mat, rng.integers(0, MAX_LEN + 1, size=n))


def real_encodings(tok: Tokenizer, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    kinds = ("noisy", "blobby", "blocks", "lines")
    out = []
    for i in range(n):
        mask = make_mask(tok.mask_shape, tok.num_classes, kinds[i % len(kinds)], rng)
        out.append(tok.encode(encode_input(tok, mask, rng)))
    return out


def same_range(tok: Tokenizer, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Real encodings with each body token replaced by a random token of the same vocabulary range."""
    starts = np.array([r.start for r in tok.vocab])
    sizes = np.array([r.size for r in tok.vocab])
    out = []
    for seq in real_encodings(tok, n, rng):
        body = seq[:-1]
        roles = tok.vocab.range_of(body)
        new = starts[roles] + (rng.random(body.size) * sizes[roles]).astype(np.int64)
        out.append(np.append(new, EOS))
    return out


def mutate(seq: np.ndarray, tok: Tokenizer, k: int, rng: np.random.Generator) -> np.ndarray:
    """One to three random edits of a token sequence."""
    for _ in range(rng.integers(1, 4)):
        n = seq.size
        op = rng.integers(6)
        if op == 0 and n:  # delete one or two tokens
            seq = np.delete(seq, rng.integers(0, n, size=rng.integers(1, 3)))
        elif op == 1:  # insert a random token (specials included)
            seq = np.insert(seq, rng.integers(0, n + 1), rng.integers(0, tok.vocab_size))
        elif op == 2 and n > 1:  # swap two tokens
            i, j = rng.integers(0, n, size=2)
            seq = seq.copy()
            seq[i], seq[j] = seq[j], seq[i]
        elif op == 3 and n:  # replace a token
            seq = seq.copy()
            seq[rng.integers(0, n)] = rng.integers(3, tok.vocab_size)
        elif op == 4:  # truncate anywhere, EOS lost
            seq = seq[: rng.integers(0, n + 1)]
        elif n > k:  # duplicate one run's tokens (a whole tuple of a fixed-tuple scheme)
            i = rng.integers(0, (n - 1) // k) * k
            seq = np.concatenate([seq[: i + k], seq[i : i + k], seq[i + k :]])
    return seq


def mutated(tok: Tokenizer, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    k = getattr(tok, "tokens_per_run", getattr(tok, "tokens_per_change", 2))
    pool = real_encodings(tok, max(8, n // 8), rng)
    return [mutate(pool[i % len(pool)], tok, k, rng) for i in range(n)]


GENERATORS = {
    "random_ints": random_ints,
    "valid_range": valid_range,
    "same_range": same_range,
    "mutated": mutated,
}


def fuzz_sequences(tok: Tokenizer, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    per_kind = np.bincount(np.arange(n) % len(KINDS), minlength=len(KINDS))
    seqs: list[np.ndarray] = []
    for kind, count in zip(KINDS, per_kind.tolist(), strict=True):
        seqs += GENERATORS[kind](tok, count, rng)
    return seqs


# ----- checks ------------------------------------------------------------------------------------------
def body_length(seq: np.ndarray) -> int:
    """Tokens decode looks at: after leading prompts, before the first EOS or PAD."""
    i = 0
    while i < seq.size and seq[i] == PROMPT:
        i += 1
    stops = np.flatnonzero((seq[i:] == EOS) | (seq[i:] == PAD))
    return int(stops[0]) if stops.size else seq.size - i


def check_accounting(tok: Tokenizer, info: DecodeInfo) -> None:
    """Every token looked at is either used by a decoded run (or group terminator) or counted as dropped."""
    assert 0 <= info.num_dropped <= info.num_tokens
    assert all(v > 0 for v in info.dropped.values())
    assert info.num_runs >= 0 and info.overlaps >= 0
    used = info.num_tokens - info.num_dropped
    if tok.name in GROUPED_SCHEMES:
        groups = used - info.num_runs * tok.tokens_per_run
        assert 0 <= groups <= info.num_runs and (groups == 0) == (info.num_runs == 0)
    elif tok.name == "bac":
        assert used % tok.tokens_per_run == 0 and info.num_runs <= used // tok.tokens_per_run
    elif tok.name == "diff":
        assert used % tok.tokens_per_change == 0 and info.num_runs <= used // tok.tokens_per_change
    else:
        assert used == info.num_runs * tok.tokens_per_run


def check_decode(tok: Tokenizer, seq: np.ndarray) -> None:
    out, info = tok.decode(seq, return_info=True)
    assert info.num_tokens == body_length(seq)
    check_accounting(tok, info)
    classes, instances = out if tok.instance_aware else (out, None)
    assert classes.shape == tok.mask_shape
    assert np.issubdtype(classes.dtype, np.integer)
    if classes.size:
        assert 0 <= classes.min() and classes.max() <= tok.num_classes
    if instances is not None:
        assert instances.shape == tok.mask_shape and np.issubdtype(instances.dtype, np.integer)
        assert instances.min() >= 0
        assert not ((instances > 0) & (classes == 0)).any(), "an instance on background"
    # what decode returns is a valid input: it encodes and decodes back to itself
    again = tok.decode(tok.encode(out))
    if instances is not None:
        np.testing.assert_array_equal(again[0], classes)
        assert same_partition(again[1], instances)
    else:
        np.testing.assert_array_equal(again, classes)


def run_fuzz(name: str, per_scheme: int, seed: int) -> None:
    toks = fuzz_tokenizers(name)
    rng = np.random.default_rng(seed)
    per_tok = -(-per_scheme // len(toks))
    for tok in toks:
        for seq in fuzz_sequences(tok, per_tok, rng):
            try:
                check_decode(tok, seq)
            except Exception as err:
                raise AssertionError(f"{tok!r} on {seq.tolist()}: {err!r}") from err


@pytest.mark.parametrize("name", list_tokenizers())
def test_decoding_1000_random_and_mutated_sequences_never_raises(name: str) -> None:
    run_fuzz(name, 1_000, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", list_tokenizers())
def test_decoding_10000_random_and_mutated_sequences_never_raises(name: str) -> None:
    """30-45 s for all schemes on a 2-core machine (iw, the slowest, about 8 s): hence slow."""
    run_fuzz(name, 10_000, seed=1)


# ----- specific malformed inputs -----------------------------------------------------------------------
@pytest.mark.parametrize("name", list_tokenizers())
def test_valid_encodings_drop_nothing(name: str) -> None:
    for tok in fuzz_tokenizers(name):
        for seq in real_encodings(tok, 10, np.random.default_rng(2)):
            _, info = tok.decode(seq, return_info=True)
            assert info.num_dropped == 0 and info.stopped_at == "eos"


@pytest.mark.parametrize("name", list_tokenizers())
def test_odd_containers_decode_to_an_empty_or_partial_mask(name: str) -> None:
    tok = fuzz_tokenizers(name)[-1]
    empty = tok.decode([])
    classes = empty[0] if tok.instance_aware else empty
    assert classes.shape == tok.mask_shape and not classes.any()
    for seq in (
        np.array([np.nan, np.inf, -np.inf, 3.7]),
        np.array([[3, 4], [5, 6]]),  # 2-D: read as one flat sequence
        np.array(["a", "b"]),
        np.array([True, False, True]),
        np.array([2**63 - 1, 2**64 - 1], dtype=np.uint64),
        [PROMPT, PROMPT, PROMPT],
        [EOS] * 5,
    ):
        out, info = tok.decode(seq, return_info=True)
        classes = out[0] if tok.instance_aware else out
        assert classes.shape == tok.mask_shape
        check_accounting(tok, info)


def test_a_stray_token_costs_only_itself() -> None:
    """Re-synchronisation: an unexpected token in the middle drops one token and keeps every run."""
    tok = make_tokenizer("lac", {"order": "row", "starts": "1d"}, (6, 7), 3)
    mask = make_mask(tok.mask_shape, 3, "noisy", np.random.default_rng(1))
    tokens = tok.encode(mask)
    k = tok.tokens_per_run
    corrupted = np.insert(tokens, 2 * k, tok.vocab["lac"].start)  # a LAC token where a start belongs
    decoded, info = tok.decode(corrupted, return_info=True)
    np.testing.assert_array_equal(decoded, mask)
    assert info.num_dropped == 1 and info.dropped["unexpected_token"] == 1


def test_run_past_the_line_end_is_dropped_and_counted() -> None:
    tok = make_tokenizer("binary", {"order": "row", "starts": "1d"}, (2, 3), 1)
    starts, lengths = tok.vocab["starts"], tok.vocab["lengths"]
    seq = [starts.start + 2, lengths.start + 1, starts.start + 3, lengths.start, EOS]  # (2, len 2) crosses
    decoded, info = tok.decode(seq, return_info=True)
    np.testing.assert_array_equal(decoded, [[0, 0, 0], [1, 0, 0]])
    assert info.dropped == {"run_out_of_bounds": 2}


def test_unterminated_group_is_dropped_and_counted() -> None:
    tok = make_tokenizer("cw", {"order": "row", "starts": "1d"}, (2, 3), 2)
    v = tok.vocab
    seq = [
        v["starts"].start,
        v["lengths"].start,
        v["classes"].start + 1,
        v["starts"].start + 4,
        v["lengths"].start,
    ]
    decoded, info = tok.decode(seq, return_info=True)
    np.testing.assert_array_equal(decoded, [[2, 0, 0], [0, 0, 0]])
    assert info.dropped == {"unterminated_group": 2}
