"""The vocabulary: named, contiguous, non-overlapping ranges with the special tokens first."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import CONFIG_IDS, CONFIGS, class_choices, frame_choices, make_tokenizer

from rleseg.tokenizers import EOS, PAD, PROMPT, TokenRange, Vocab

layouts = st.lists(
    st.tuples(st.text("abcdefgh_", min_size=1, max_size=6), st.integers(1, 50)),
    min_size=0,
    max_size=6,
    unique_by=lambda entry: entry[0],
).filter(lambda layout: not {"pad", "eos", "prompt"} & {name for name, _ in layout})


@given(layout=layouts)
def test_ranges_tile_the_vocabulary_in_order(layout: list[tuple[str, int]]) -> None:
    vocab = Vocab(layout)
    ranges = list(vocab)
    assert [r.name for r in ranges] == ["pad", "eos", "prompt", *(name for name, _ in layout)]
    assert ranges[0].start == 0
    for prev, nxt in zip(ranges[:-1], ranges[1:], strict=True):
        assert nxt.start == prev.stop  # contiguous, no gap, no overlap
    assert vocab.size == 3 + sum(size for _, size in layout)
    assert vocab.size_without_specials == sum(size for _, size in layout)
    assert len(vocab) == len(layout) + 3


@given(layout=layouts, data=st.data())
def test_range_of_finds_each_token_and_marks_outsiders(layout: list[tuple[str, int]], data) -> None:
    vocab = Vocab(layout)
    tokens = np.array(data.draw(st.lists(st.integers(-(2**40), 2**40), max_size=30)) + list(range(-2, vocab.size + 2)))
    idx = vocab.range_of(tokens)
    assert idx.shape == tokens.shape and idx.dtype == np.int64
    for t, i in zip(tokens.tolist(), idx.tolist(), strict=True):
        if 0 <= t < vocab.size:
            r = list(vocab)[i]
            assert r.start <= t < r.stop
        else:
            assert i == -1


@given(layout=layouts)
def test_to_dict_from_dict_round_trip_through_json(layout: list[tuple[str, int]]) -> None:
    vocab = Vocab(layout)
    again = Vocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again == vocab and hash(again) == hash(vocab)
    assert list(again) == list(vocab)


def test_specials_are_pad_eos_prompt() -> None:
    vocab = Vocab([("starts", 10)])
    assert (PAD, EOS, PROMPT) == (0, 1, 2)
    assert vocab["pad"] == TokenRange("pad", 0, 1)
    assert vocab["eos"] == TokenRange("eos", 1, 1)
    assert vocab["prompt"] == TokenRange("prompt", 2, 1)
    assert vocab.num_special == 3
    assert Vocab([("a", 4)], with_specials=False).num_special == 0


def test_token_range_helpers() -> None:
    r = TokenRange("lengths", 10, 5)
    assert r.stop == 15
    assert r.contains(np.array([9, 10, 14, 15])).tolist() == [False, True, True, False]
    assert r.token(np.array([0, 4])).tolist() == [10, 14]
    assert r.index(np.array([10, 14])).tolist() == [0, 4]


def test_range_of_keeps_the_shape_of_its_input() -> None:
    vocab = Vocab([("a", 2), ("b", 3)])  # a: 3..4, b: 5..7
    tokens = np.array([[0, 3, 5], [7, 8, -1]])
    np.testing.assert_array_equal(vocab.range_of(tokens), [[0, 3, 4], [4, -1, -1]])
    assert vocab.names == ("pad", "eos", "prompt", "a", "b")


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ([("a", 3), ("a", 4)], "appears twice"),
        ([("eos", 3)], "appears twice"),
        ([("", 3)], "non-empty strings"),
        ([(5, 3)], "non-empty strings"),
        ([("a", 0)], "positive integer size"),
        ([("a", -2)], "positive integer size"),
        ([("a", 2.5)], "positive integer size"),
    ],
)
def test_bad_layouts_are_refused(layout, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Vocab(layout)


def test_from_dict_refuses_inconsistent_starts() -> None:
    d = Vocab([("a", 2), ("b", 3)]).to_dict()
    d["ranges"][4][1] += 1  # "b" moved by one: a gap
    with pytest.raises(ValueError, match="vocabulary range 'b' stored at 6, recomputed at 5"):
        Vocab.from_dict(d)


def test_unknown_range_name_lists_the_known_ones() -> None:
    vocab = Vocab([("starts", 4)])
    with pytest.raises(KeyError, match="no vocabulary range 'lac'; ranges are"):
        vocab["lac"]
    assert "starts" in vocab and "lac" not in vocab


def test_vocab_is_immutable() -> None:
    vocab = Vocab([("a", 2)])
    with pytest.raises(AttributeError):
        vocab.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        vocab["a"].size = 4  # type: ignore[misc]


@pytest.mark.parametrize(("name", "opts"), CONFIGS, ids=CONFIG_IDS)
def test_every_scheme_vocab_is_well_formed_and_round_trips(name: str, opts: dict) -> None:
    tok = make_tokenizer(name, opts, (5, 7), class_choices(name)[-1], frame_choices(name)[-1])
    vocab = tok.vocab
    assert vocab.names[:3] == ("pad", "eos", "prompt")
    assert tok.vocab_size == vocab.size == sum(r.size for r in vocab)
    assert Vocab.from_dict(vocab.to_dict()) == vocab
    assert (vocab.range_of(np.arange(vocab.size)) >= 0).all()
    assert vocab.range_of(np.array([-1, vocab.size])).tolist() == [-1, -1]
