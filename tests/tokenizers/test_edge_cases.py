"""Explicit edge cases: empty and full masks, single pixels everywhere, runs at line ends, thin and
non-square masks, every class present, and hand-computed token sequences that pin down the conventions."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import (
    CONFIG_IDS,
    CONFIGS,
    VIDEO_SCHEMES,
    assert_roundtrip,
    class_choices,
    encode_input,
    frame_choices,
    make_tokenizer,
    same_partition,
)

from rleseg.tokenizers import EOS, create_tokenizer, list_tokenizers

LINE_CUT = [n for n in list_tokenizers() if n != "diff"]  # every scheme but diff cuts runs at line ends


def _configs_with_classes():
    """Each config with its largest class count and frame count (the hardest layout)."""
    for (name, opts), cid in zip(CONFIGS, CONFIG_IDS, strict=True):
        yield pytest.param(name, opts, class_choices(name)[-1], frame_choices(name)[-1], id=cid)


EDGE = list(_configs_with_classes())


@pytest.mark.parametrize(("name", "opts", "num_classes", "frames"), EDGE)
def test_empty_mask_is_just_eos(name, opts, num_classes, frames) -> None:
    tok = make_tokenizer(name, opts, (3, 4), num_classes, frames)
    x = encode_input(tok, np.zeros(tok.mask_shape, dtype=np.int64))
    tokens = tok.encode(x)
    assert tokens.tolist() == [EOS]
    assert_roundtrip(tok, x, tokens)


@pytest.mark.parametrize(("name", "opts", "num_classes", "frames"), EDGE)
def test_full_mask_of_each_class(name, opts, num_classes, frames) -> None:
    tok = make_tokenizer(name, opts, (3, 4), num_classes, frames)
    for cls in range(1, num_classes + 1):
        x = encode_input(tok, np.full(tok.mask_shape, cls, dtype=np.int64))
        tokens, info = tok.encode(x, return_info=True)
        assert_roundtrip(tok, x, tokens)
        if name in ("diff",):
            assert info.num_runs == 1  # one change point, never cut at line ends
        elif not tok.instance_aware:
            assert info.num_runs == tok.flattening.num_lines  # one run per line, each line_len long


@pytest.mark.parametrize(("name", "opts", "num_classes", "frames"), EDGE)
def test_single_pixel_at_every_position(name, opts, num_classes, frames) -> None:
    tok = make_tokenizer(name, opts, (3, 4), num_classes, frames)
    for flat_index in range(int(np.prod(tok.mask_shape))):
        mask = np.zeros(tok.mask_shape, dtype=np.int64)
        mask.reshape(-1)[flat_index] = 1 + flat_index % num_classes
        x = encode_input(tok, mask)
        tokens, info = tok.encode(x, return_info=True)
        assert info.num_runs == 1
        assert_roundtrip(tok, x, tokens)


@pytest.mark.parametrize(("name", "opts", "num_classes", "frames"), EDGE)
def test_first_and_last_pixel(name, opts, num_classes, frames) -> None:
    tok = make_tokenizer(name, opts, (4, 5), num_classes, frames)
    mask = np.zeros(tok.mask_shape, dtype=np.int64)
    mask.reshape(-1)[[0, -1]] = num_classes
    assert_roundtrip(tok, encode_input(tok, mask), tok.encode(encode_input(tok, mask)))


@pytest.mark.parametrize(("name", "opts", "num_classes", "frames"), EDGE)
def test_runs_touching_line_ends_are_cut_there(name, opts, num_classes, frames) -> None:
    """Runs that end at one line's end and go on at the next line's start, in both orders."""
    tok = make_tokenizer(name, opts, (4, 5), num_classes, frames)
    mask = np.zeros(tok.mask_shape, dtype=np.int64)
    mask[..., :, -2:] = 1  # last two columns: ends of rows
    mask[..., 1:3, :2] = num_classes  # first two columns of rows 1-2: starts of rows
    mask[..., -1, :] = 1  # last row full: end of every column
    x = encode_input(tok, mask)
    assert_roundtrip(tok, x, tok.encode(x))


@pytest.mark.parametrize(("name", "opts", "num_classes", "frames"), EDGE)
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 7), (7, 2)])
def test_thin_and_non_square_masks(name, opts, num_classes, frames, shape) -> None:
    tok = make_tokenizer(name, opts, shape, num_classes, frames)
    rng = np.random.default_rng(sum(shape))
    for density in (0.3, 0.8, 1.0):
        mask = rng.integers(1, num_classes + 1, size=tok.mask_shape) * (rng.random(tok.mask_shape) < density)
        x = encode_input(tok, mask, rng)
        assert_roundtrip(tok, x, tok.encode(x))


MANY_CLASSES = [
    pytest.param(name, c, id=f"{name}-{c}")
    for name in list_tokenizers()
    if name != "binary"
    for c in ((5, 300) if name not in ("tac", "ltac") else (5,))  # TAC: (C+1)^N classes, keep C small
]


@pytest.mark.parametrize(("name", "num_classes"), MANY_CLASSES)
def test_every_class_present_incl_more_than_255(name, num_classes) -> None:
    frames = 2 if name in VIDEO_SCHEMES else 1
    tok = create_tokenizer(
        name, mask_size=(20, 40), num_classes=num_classes, **({"num_frames": frames} if frames > 1 else {})
    )
    mask = np.zeros(tok.mask_shape, dtype=np.int64)
    first = mask[0] if frames > 1 else mask
    first.flat[: 2 * num_classes : 2] = np.arange(1, num_classes + 1)  # every class, one pixel each
    if frames > 1:
        mask[1] = np.roll(mask[0], 1)
    assert set(np.unique(mask).tolist()) == set(range(num_classes + 1))
    x = encode_input(tok, mask)
    assert_roundtrip(tok, x, tok.encode(x))


def test_adjacent_runs_of_different_classes_stay_separate() -> None:
    mask = np.array([[1, 1, 2, 2, 2, 1]])
    for name in ("multiclass", "lac", "cw", "bac", "diff"):
        tok = create_tokenizer(name, mask_size=(1, 6), num_classes=2)
        tokens, info = tok.encode(mask, return_info=True)
        assert info.num_runs == 3, name
        assert_roundtrip(tok, mask, tokens)
    binary = create_tokenizer("binary", mask_size=(1, 6))
    _, info = binary.encode(mask > 0, return_info=True)
    assert info.num_runs == 1


# ----- hand-computed sequences: specials 0..2, then the scheme's ranges in order ------------------------
MASK_2x3 = np.array([[0, 1, 1], [2, 0, 0]])
VIDEO_1x2 = np.array([[[1, 0]], [[1, 1]]])  # frame 0 then frame 1


@pytest.mark.parametrize(
    ("name", "kw", "mask", "expected"),
    [
        # starts 3..8, LAC 9..14 = (class-1)*3 + length-1: run (1, len 2, class 1), run (3, len 1, class 2)
        ("lac", {"mask_size": (2, 3), "num_classes": 2}, MASK_2x3, [4, 10, 6, 12, EOS]),
        # column-major: lines are columns of 2, flat [0,2, 1,0, 1,0]; LAC 9..12 = (class-1)*2 + length-1
        ("lac", {"mask_size": (2, 3), "num_classes": 2, "order": "col"}, MASK_2x3, [4, 11, 5, 9, 7, 9, EOS]),
        # starts 3..8, lengths 9..11, classes 12..13
        ("multiclass", {"mask_size": (2, 3), "num_classes": 2}, MASK_2x3, [4, 10, 12, 6, 9, 13, EOS]),
        # 2-D starts: one coords range of max(2, 3) tokens 3..5, lengths 6..8: (row, col, length)
        ("binary", {"mask_size": (2, 3), "starts": "2d"}, MASK_2x3 > 0, [3, 4, 7, 4, 3, 6, EOS]),
        # TAC id = c0 + 2*c1: pixel ids 3, 2; starts 3..4, lengths 5..6, tac 7..9
        ("tac", {"mask_size": (1, 2)}, VIDEO_1x2, [3, 5, 9, 4, 5, 8, EOS]),
        # LTAC token = (id-1)*line_len + length-1 in 5..10
        ("ltac", {"mask_size": (1, 2)}, VIDEO_1x2, [3, 9, 4, 7, EOS]),
        # 3D-C: frames one after the other, flat [1,0, 1,1]: runs (0,1), (2,2); starts 3..6, lengths 7..8
        ("3d-c", {"mask_size": (1, 2)}, VIDEO_1x2, [3, 7, 5, 8, EOS]),
        # 3D-F: time fastest, flat [1,1, 0,1], lines of N*H = 2: runs (0,2), (3,1)
        ("3d-f", {"mask_size": (1, 2)}, VIDEO_1x2, [3, 8, 6, 7, EOS]),
        # CW: groups in class order; starts 3..6, lengths 7..10, classes 11..12
        (
            "cw",
            {"mask_size": (1, 4), "num_classes": 2},
            np.array([[2, 1, 0, 2]]),
            [4, 7, 11, 3, 7, 6, 7, 12, EOS],
        ),
        # BAC: (length, class incl. background) tiling the mask, trailing background left out
        ("bac", {"mask_size": (1, 4), "num_classes": 2}, np.array([[0, 2, 2, 0]]), [3, 7, 4, 9, EOS]),
        (
            "bac",
            {"mask_size": (1, 4), "num_classes": 2, "classes": "lac"},
            np.array([[0, 2, 2, 0]]),
            [3, 12, EOS],
        ),
        # DIFF binary: the positions where the value toggles; multi: (position, new value incl. 0)
        ("diff", {"mask_size": (1, 5)}, np.array([[0, 1, 1, 0, 1]]), [4, 6, 7, EOS]),
        (
            "diff",
            {"mask_size": (1, 5), "num_classes": 2},
            np.array([[0, 2, 1, 1, 0]]),
            [4, 10, 5, 9, 7, 8, EOS],
        ),
    ],
)
def test_hand_computed_token_sequences(name, kw, mask, expected) -> None:
    tok = create_tokenizer(name, **kw)
    assert tok.encode(mask).tolist() == expected
    np.testing.assert_array_equal(tok.decode(expected), mask)


def test_iw_hand_computed_sequence_and_instance_numbering() -> None:
    tok = create_tokenizer("iw", mask_size=(1, 4), num_classes=2)
    classes, instances = np.array([[1, 1, 1, 2]]), np.array([[5, 5, 0, 0]])
    # starts 3..6, lengths 7..10, classes 11..12, stuff 13..14: instance 5 (class 1), stuff 1, stuff 2
    assert tok.encode((classes, instances)).tolist() == [3, 8, 11, 5, 7, 13, 6, 7, 14, EOS]
    cls2, inst2 = tok.decode([3, 8, 11, 5, 7, 13, 6, 7, 14, EOS])
    np.testing.assert_array_equal(cls2, classes)
    np.testing.assert_array_equal(inst2, [[1, 1, 0, 0]])


def test_iw_touching_and_split_instances_of_one_class() -> None:
    tok = create_tokenizer("iw", mask_size=(3, 4), num_classes=2)
    classes = np.array([[1, 1, 1, 1], [0, 2, 2, 1], [1, 1, 0, 1]])
    instances = np.array([[7, 7, 9, 9], [0, 4, 0, 9], [7, 0, 0, 0]])  # 7 split in two; 7|9 touch in a row
    (cls2, inst2), info = tok.decode(tok.encode((classes, instances)), return_info=True)
    np.testing.assert_array_equal(cls2, classes)
    assert same_partition(instances, inst2)
    assert sorted(np.unique(inst2).tolist()) == [0, 1, 2, 3]  # renumbered 1.. in first-pixel order
    assert inst2[0, 0] == 1 and inst2[0, 2] == 2 and inst2[1, 1] == 3
    assert info.num_dropped == 0


def test_same_partition_helper_rejects_merges_splits_and_background_changes() -> None:
    a = np.array([[1, 1, 2, 0]])
    assert same_partition(a, np.array([[5, 5, 3, 0]]))
    assert not same_partition(a, np.array([[1, 1, 1, 0]]))  # merged
    assert not same_partition(a, np.array([[1, 3, 2, 0]]))  # split
    assert not same_partition(a, np.array([[1, 1, 2, 4]]))  # background became an instance


def test_3d_f_runs_span_frames_and_3d_c_runs_do_not() -> None:
    video = np.ones((3, 2, 2), dtype=np.int64)
    f = create_tokenizer("3d-f", mask_size=2, num_frames=3)
    c = create_tokenizer("3d-c", mask_size=2, num_frames=3)
    assert f.encode(video, return_info=True)[1].num_runs == 2  # one line per column, N*H long
    assert c.encode(video, return_info=True)[1].num_runs == 6  # one per row of each frame
    assert f.vocab["lengths"].size == 3 * 2


def test_tac_ids_follow_the_papers_formula() -> None:
    """id = sum_i c_i (C+1)^i over frames; the (C+1)^N - 1 ids exclude all-background."""
    tok = create_tokenizer("tac", mask_size=(1, 1), num_classes=2, num_frames=3)
    assert tok.vocab["tac"].size == 3**3 - 1
    for c0 in range(3):
        for c1 in range(3):
            for c2 in range(3):
                video = np.array([c0, c1, c2]).reshape(3, 1, 1)
                tac_id = c0 + 3 * c1 + 9 * c2
                tokens = tok.encode(video)
                if tac_id == 0:
                    assert tokens.tolist() == [EOS]
                else:
                    assert tokens[2] == tok.vocab["tac"].start + tac_id - 1
                np.testing.assert_array_equal(tok.decode(tokens), video)


def test_cw_groups_come_in_class_order_whatever_the_pixel_order() -> None:
    tok = create_tokenizer("cw", mask_size=(2, 3), num_classes=3)
    mask = np.array([[3, 0, 1], [2, 0, 3]])
    tokens = tok.encode(mask)
    terminators = tokens[tok.vocab["classes"].contains(tokens)] - tok.vocab["classes"].start + 1
    assert terminators.tolist() == [1, 2, 3]


@pytest.mark.parametrize("name", ["cw", "iw"])
def test_grouped_schemes_take_videos(name: str) -> None:
    tok = create_tokenizer(name, mask_size=(3, 4), num_classes=2, num_frames=3)
    assert tok.mask_shape == (3, 3, 4)
    mask = np.zeros((3, 3, 4), dtype=np.int64)
    mask[0, 0, 0], mask[1, 1, 1], mask[2, 2, 3] = 1, 2, 1
    x = encode_input(tok, mask)
    assert_roundtrip(tok, x, tok.encode(x))


def test_full_row_uses_the_longest_length_token() -> None:
    tok = create_tokenizer("binary", mask_size=(2, 5))
    tokens = tok.encode(np.array([[1, 1, 1, 1, 1], [0, 0, 0, 0, 0]]))
    assert tokens[1] == tok.vocab["lengths"].stop - 1


@pytest.mark.parametrize("big", [2**40, 2**62, 2**63 - 1])
def test_iw_huge_instance_ids(big: int) -> None:
    tok = create_tokenizer("iw", mask_size=(2, 3), num_classes=3)
    classes = np.array([[1, 1, 2], [3, 0, 0]])
    instances = np.array([[big, big, big - 1], [5, 0, 0]])
    x = (classes, instances)
    assert_roundtrip(tok, x, tok.encode(x))
    with pytest.raises(ValueError, match=f"instance {big} has pixels of several classes"):
        tok.encode((classes, np.array([[big, big, big], [5, 0, 0]])))
