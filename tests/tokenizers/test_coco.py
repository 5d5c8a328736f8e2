"""COCO RLE interop agrees with pycocotools: same bytes, same pixels, same areas, for both flattening orders."""

from __future__ import annotations

import json

import numpy as np
import pycocotools.mask as coco_mask
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rleseg.tokenizers import create_tokenizer
from rleseg.tokenizers.coco import (
    classes_to_coco,
    coco_area,
    coco_counts,
    coco_to_classes,
    coco_to_mask,
    coco_to_runs,
    coco_to_tokens,
    compress_counts,
    decompress_counts,
    mask_to_coco,
    runs_to_coco,
    tokens_to_coco,
)
from rleseg.tokenizers.runs import paint_runs

# pycocotools' decode warns under numpy 2 (its __array__ lacks a copy argument); not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

ORDERS = ("row", "col")
KINDS = ("noisy", "blobby", "blocks", "lines", "empty", "full")


def make_mask(shape: tuple[int, int], num_classes: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """An ``(H, W)`` int64 mask with values in ``[0, num_classes]`` of one of :data:`KINDS`."""
    h, w = shape
    if kind == "empty":
        return np.zeros(shape, dtype=np.int64)
    if kind == "full":
        return np.full(shape, rng.integers(1, num_classes + 1), dtype=np.int64)
    if kind == "noisy":
        return rng.integers(1, num_classes + 1, size=shape) * (rng.random(shape) < rng.random())
    if kind == "blocks":  # a coarse grid upsampled: long runs that touch line ends
        bh, bw = rng.integers(1, h + 1), rng.integers(1, w + 1)
        coarse = rng.integers(0, num_classes + 1, size=(-(-h // bh), -(-w // bw)))
        return np.repeat(np.repeat(coarse, bh, axis=0), bw, axis=1)[:h, :w].astype(np.int64)
    mask = np.zeros(shape, dtype=np.int64)
    if kind == "lines":  # full rows or full columns
        if rng.random() < 0.5:
            mask[rng.random(h) < 0.5] = rng.integers(1, num_classes + 1)
        else:
            mask[:, rng.random(w) < 0.5] = rng.integers(1, num_classes + 1)
        return mask
    yy, xx = np.mgrid[:h, :w]  # blobby: a few rectangles and ellipses
    for _ in range(rng.integers(1, 5)):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        ry, rx = rng.integers(0, h // 2 + 1), rng.integers(0, w // 2 + 1)
        if rng.random() < 0.5:
            blob = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
        else:
            blob = ((yy - cy) / (ry + 0.5)) ** 2 + ((xx - cx) / (rx + 0.5)) ** 2 <= 1
        mask[blob] = rng.integers(1, num_classes + 1)
    return mask


@st.composite
def masks(draw: st.DrawFn, num_classes: int = 1, max_side: int = 12) -> np.ndarray:
    """A random ``(H, W)`` mask drawn as (size, kind, seed), 1xN and Nx1 included."""
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    kind = draw(st.sampled_from(KINDS))
    return make_mask((h, w), num_classes, kind, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))


def coco_encode(mask: np.ndarray) -> dict:
    """pycocotools' RLE of a 0/1 mask (it needs Fortran-ordered uint8)."""
    return coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))


def edge_case_masks() -> list[tuple[str, np.ndarray]]:
    """Empty, full, single pixels (corners and middle), non-square, 1xN and Nx1, runs across column ends."""
    cases: list[tuple[str, np.ndarray]] = []
    for shape in [(1, 1), (1, 7), (7, 1), (3, 5), (6, 4)]:
        h, w = shape
        cases.append((f"empty{h}x{w}", np.zeros(shape, np.uint8)))
        cases.append((f"full{h}x{w}", np.ones(shape, np.uint8)))
        for y, x in {(0, 0), (h - 1, w - 1), (0, w - 1), (h - 1, 0), (h // 2, w // 2)}:
            m = np.zeros(shape, np.uint8)
            m[y, x] = 1
            cases.append((f"pixel{h}x{w}@{y},{x}", m))
    m = np.zeros((5, 6), np.uint8)
    m[3:, 1] = 1
    m[:2, 2] = 1  # a column-major run from (3, 1) to (1, 2): one COCO run, two rleseg runs
    cases.append(("across-column-end", m))
    m = np.zeros((4, 5), np.uint8)
    m[:, 1:4] = 1  # full columns: one COCO run of 12, three rleseg runs of 4
    cases.append(("full-columns", m))
    m = np.zeros((4, 5), np.uint8)
    m[1, :] = 1  # a full row: column-major runs of length 1 in every column
    cases.append(("full-row", m))
    checker = (np.indices((5, 7)).sum(0) % 2).astype(np.uint8)
    cases.append(("checkerboard", checker))
    return cases


EDGE_CASES = edge_case_masks()
EDGE_IDS = [name for name, _ in EDGE_CASES]


def random_masks(n: int = 40, seed: int = 0) -> list[np.ndarray]:
    """Random 0/1 masks of all kinds from the shared generators, sizes 1..40 (non-square included)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = (int(v) for v in rng.integers(1, 41, 2))
        kind = KINDS[i % len(KINDS)]
        out.append((make_mask((h, w), 1, kind, rng) > 0).astype(np.uint8))
    return out


ALL_MASKS = [m for _, m in EDGE_CASES] + random_masks()
ALL_IDS = EDGE_IDS + [f"random{i}" for i in range(len(ALL_MASKS) - len(EDGE_IDS))]


def check_parity(mask: np.ndarray, order: str) -> None:
    """Every conversion between our runs/tokens and pycocotools' RLE agrees for ``mask``."""
    h, w = mask.shape
    ref = coco_encode(mask)
    tok = create_tokenizer("binary", mask_size=(h, w), order=order)
    starts, lengths, _ = tok.runs(mask)

    # our RLE is byte-for-byte pycocotools' RLE
    assert mask_to_coco(mask) == ref
    assert runs_to_coco(starts, lengths, (h, w), order) == ref

    # decode parity: our decode of our tokens == pycocotools' decode of the RLE we made from the tokens
    tokens = tok.encode(mask)
    ours = tok.decode(tokens)
    np.testing.assert_array_equal(ours, mask)
    np.testing.assert_array_equal(coco_mask.decode(tokens_to_coco(tokens, tok)), ours)

    # pycocotools' RLE -> our runs paints the same mask, cut exactly as the tokenizer cuts them
    s2, l2 = coco_to_runs(ref, order)
    np.testing.assert_array_equal(s2, starts)
    np.testing.assert_array_equal(l2, lengths)
    flat, overlaps = paint_runs(h * w, s2, l2, np.ones(s2.size, np.int64), np.uint8)
    assert overlaps == 0
    painted = flat.reshape(h, w) if order == "row" else flat.reshape(w, h).T
    np.testing.assert_array_equal(painted, mask)
    np.testing.assert_array_equal(coco_to_mask(ref), mask)
    np.testing.assert_array_equal(coco_to_tokens(ref, tok), tokens)

    # foreground area
    area = int(coco_mask.area(ref))
    assert int(lengths.sum()) == int(l2.sum()) == coco_area(ref) == area == int(mask.sum())


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("mask", ALL_MASKS, ids=ALL_IDS)
def test_parity_with_pycocotools(mask: np.ndarray, order: str) -> None:
    check_parity(mask, order)


@pytest.mark.parametrize("order", ORDERS)
@settings(max_examples=60)
@given(mask=masks(num_classes=1, max_side=12))
def test_parity_property(mask: np.ndarray, order: str) -> None:
    check_parity(mask.astype(np.uint8), order)


@pytest.mark.parametrize("order", ORDERS)
def test_uncut_runs_are_cocos_runs(order: str) -> None:
    mask = np.zeros((4, 3), np.uint8)
    mask[2:, 0] = 1
    mask[:, 1] = 1
    mask[0, 2] = 1  # column-major: one run from pixel 2 to pixel 8
    starts, lengths = coco_to_runs(coco_encode(mask), "col", cut=False)
    assert starts.tolist() == [2] and lengths.tolist() == [7]
    starts, lengths = coco_to_runs(coco_encode(mask), "col", cut=True)
    assert starts.tolist() == [2, 4, 8] and lengths.tolist() == [2, 4, 1]
    s_row, l_row = coco_to_runs(coco_encode(mask), "row", cut=False)
    assert int(l_row.sum()) == 7
    assert np.all(s_row[1:] > s_row[:-1] + l_row[:-1])  # merged: no two runs touch


def test_large_mask_counts_and_strings() -> None:
    """Large counts need several 5-bit groups and negative differences; strings and lists both work."""
    rng = np.random.default_rng(3)
    for _ in range(5):
        h, w = (int(v) for v in rng.integers(200, 700, 2))
        mask = (make_mask((h, w), 1, "blobby", rng) > 0).astype(np.uint8)
        mask[rng.random((h, w)) < 0.001] ^= 1
        ref = coco_encode(mask)
        assert mask_to_coco(mask) == ref
        assert mask_to_coco(np.asfortranarray(mask)) == ref  # large, not C-ordered: the other path
        assert mask_to_coco(mask.astype(bool)[:, ::-1][:, ::-1]) == ref  # a strided view
        as_str = {"size": ref["size"], "counts": ref["counts"].decode("ascii")}
        np.testing.assert_array_equal(coco_to_mask(json.loads(json.dumps(as_str))), mask)
        listed = mask_to_coco(mask, counts="list")
        assert coco_mask.frPyObjects(listed, h, w) == ref
        np.testing.assert_array_equal(coco_to_mask(listed), mask)
        assert mask_to_coco(mask, counts="str") == as_str
        counts = decompress_counts(ref["counts"])
        assert counts.tolist() == listed["counts"]
        assert compress_counts(counts, (h, w)) == ref["counts"]
        for order in ORDERS:
            check_parity(mask, order)


def test_mask_inputs_bool_fortran_and_views() -> None:
    rng = np.random.default_rng(1)
    mask = (make_mask((9, 13), 1, "noisy", rng) > 0).astype(np.uint8)
    ref = coco_encode(mask)
    assert mask_to_coco(mask.astype(bool)) == ref
    assert mask_to_coco(np.asfortranarray(mask)) == ref
    assert mask_to_coco(mask.astype(np.int64)) == ref
    big = np.zeros((18, 39), np.uint8)
    big[::2, ::3] = mask
    assert mask_to_coco(big[::2, ::3]) == ref  # a strided view


def test_zero_sized_mask_matches_pycocotools() -> None:
    empty = np.zeros((0, 4), np.uint8)
    assert mask_to_coco(empty) == coco_encode(empty)
    assert coco_to_mask(mask_to_coco(empty)).shape == (0, 4)


def test_runs_in_any_order_and_uncut() -> None:
    mask = np.zeros((4, 4), np.uint8)
    mask[1:, 1] = 1
    mask[0, 2] = 1
    ref = coco_encode(mask)
    # uncut column-major run (5, 4), given as one run, or cut and shuffled
    assert runs_to_coco(np.array([5]), np.array([4]), (4, 4), "col") == ref
    assert runs_to_coco(np.array([8, 5]), np.array([1, 3]), (4, 4), "col") == ref
    assert runs_to_coco([8, 5], [1, 3], (4, 4), "col", counts="list")["counts"] == [5, 4, 7]


def test_non_canonical_counts_are_read() -> None:
    """Uncompressed counts with zero runs inside (legal, if unusual) decode as pycocotools does."""
    rle = {"size": [3, 4], "counts": [0, 1, 0, 2, 4, 0, 5]}
    ref = coco_mask.decode(coco_mask.frPyObjects(rle, 3, 4))
    np.testing.assert_array_equal(coco_to_mask(rle), ref)
    starts, lengths = coco_to_runs(rle, "col", cut=False)
    assert starts.tolist() == [0] and lengths.tolist() == [3]
    assert coco_area(rle) == int(ref.sum())


# ----- several classes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_classes_match_pycocotools_per_class(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 30, 2))
    mask = make_mask((h, w), 4, ("noisy", "blobby", "blocks")[seed % 3], rng).astype(np.uint8)
    rles = classes_to_coco(mask)
    present = sorted(set(np.unique(mask).tolist()) - {0})
    assert list(rles) == present
    for c, rle in rles.items():
        assert rle == coco_encode(mask == c)
    np.testing.assert_array_equal(coco_to_classes(rles, (h, w)), mask)


def test_classes_explicit_list_overlap_and_empty() -> None:
    mask = np.array([[0, 1, 1], [2, 2, 0]], np.uint8)
    rles = classes_to_coco(mask, classes=[1, 2, 5], counts="str")
    assert set(rles) == {1, 2, 5}
    assert coco_area(rles[5]) == 0
    assert isinstance(rles[1]["counts"], str)
    np.testing.assert_array_equal(coco_to_classes(rles), mask)
    # overlapping RLEs: the larger class id wins
    over = {1: mask_to_coco(np.ones((2, 3), np.uint8)), 3: mask_to_coco((mask == 2).astype(np.uint8))}
    np.testing.assert_array_equal(coco_to_classes(over), np.where(mask == 2, 3, 1))
    assert coco_to_classes({}, (2, 3)).shape == (2, 3)


@pytest.mark.parametrize("name", ["multiclass", "lac", "bac", "cw"])
@pytest.mark.parametrize("order", ORDERS)
def test_tokens_roundtrip_through_class_rles(name: str, order: str) -> None:
    rng = np.random.default_rng(7)
    mask = make_mask((11, 8), 3, "blobby", rng).astype(np.uint8)
    tok = create_tokenizer(name, mask_size=(11, 8), num_classes=3, order=order)
    tokens = tok.encode(mask)
    rles = tokens_to_coco(tokens, tok)
    assert isinstance(rles, dict)
    for c, rle in rles.items():
        np.testing.assert_array_equal(coco_mask.decode(rle), (tok.decode(tokens) == c).astype(np.uint8))
    np.testing.assert_array_equal(coco_to_tokens(rles, tok), tokens)


# ----- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rle", "match"),
    [
        ([1, 2], "must be a dict"),
        ({"counts": [4]}, "dict with keys"),
        ({"size": [2], "counts": [2]}, r"'size' must be \[h, w\]"),
        ({"size": [2, -1], "counts": [2]}, "'size' must be"),
        ({"size": [2, 2], "counts": [1, 2]}, "sum to 3 pixels, expected h \\* w = 2 \\* 2 = 4"),
        ({"size": [2, 2], "counts": [5, -1]}, "must be >= 0, got -1"),
        ({"size": [2, 2], "counts": [[1, 3]]}, "flat list of integers"),
        ({"size": [2, 2], "counts": [1.5, 2.5]}, "flat list of integers"),
        ({"size": [2, 2], "counts": 4}, "must be a list of ints, bytes or str"),
        ({"size": [2, 2], "counts": b"4 "}, "byte 32"),
        ({"size": [2, 2], "counts": b"41P"}, "end in the middle of a value"),
        ({"size": [2, 2], "counts": "4é"}, "ASCII"),
    ],
)
def test_bad_rle_raises_clear_error(rle: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        coco_to_mask(rle)  # type: ignore[arg-type]


def test_bad_masks_and_runs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="got value 2; use classes_to_coco"):
        mask_to_coco(np.array([[0, 2]]))
    with pytest.raises(ValueError, match="got value -1"):
        mask_to_coco(np.array([[0, -1]]))
    with pytest.raises(ValueError, match=r"shape \(h, w\), got shape \(1, 2, 2\)"):
        mask_to_coco(np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="integer or bool dtype, got float64"):
        mask_to_coco(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="numpy array"):
        mask_to_coco([[0, 1]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="order must be 'row' or 'col', got 'diag'"):
        runs_to_coco(np.array([0]), np.array([1]), (2, 2), "diag")
    with pytest.raises(ValueError, match=r"run \(start 3, length 2\) lies outside the mask's 4 pixels"):
        runs_to_coco(np.array([3]), np.array([2]), (2, 2))
    with pytest.raises(ValueError, match="runs overlap"):
        runs_to_coco(np.array([0, 1]), np.array([2, 1]), (2, 2))
    with pytest.raises(ValueError, match="run lengths must be >= 1, got 0"):
        runs_to_coco(np.array([0]), np.array([0]), (2, 2))
    with pytest.raises(ValueError, match=r"shape must be \(h, w\)"):
        runs_to_coco(np.array([0]), np.array([1]), (2, 2, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="counts format must be"):
        mask_to_coco(np.zeros((2, 2), np.uint8), counts="rle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="class ids must be integers >= 1"):
        coco_to_classes({0: mask_to_coco(np.zeros((2, 2), np.uint8))})
    with pytest.raises(ValueError, match=r"class 2 has size \[3, 2\], expected \[2, 2\]"):
        coco_to_classes({1: mask_to_coco(np.zeros((2, 2), np.uint8)), 2: mask_to_coco(np.zeros((3, 2), np.uint8))})
    with pytest.raises(ValueError, match="needs shape"):
        coco_to_classes({})
    tok = create_tokenizer("binary", mask_size=4)
    with pytest.raises(ValueError, match=r"size \[2, 2\], expected the tokenizer's mask size \[4, 4\]"):
        coco_to_tokens(mask_to_coco(np.zeros((2, 2), np.uint8)), tok)
    with pytest.raises(ValueError, match="is binary but the RLEs hold class 2"):
        coco_to_tokens(classes_to_coco(np.full((4, 4), 2, np.uint8)), tok)


def test_coco_counts_reports_size_and_counts() -> None:
    (h, w), counts = coco_counts({"size": [3, 4], "counts": b"01402"})
    assert (h, w) == (3, 4)
    assert counts.tolist() == [0, 1, 4, 1, 6]


def test_empty_class_dict_gives_empty_tokens() -> None:
    tok = create_tokenizer("multiclass", mask_size=(3, 5), num_classes=2)
    tokens = coco_to_tokens({}, tok)
    np.testing.assert_array_equal(tok.decode(tokens), np.zeros((3, 5)))
    assert tokens_to_coco(tokens, tok) == {}


@pytest.mark.parametrize("shape", [(192, 192), (200, 301), (256, 640)])
@pytest.mark.parametrize("density", [0.0, 0.002, 0.5, 1.0])
def test_large_masks_decode_like_pycocotools_through_the_column_painter(shape: tuple[int, int], density: float) -> None:
    rng = np.random.default_rng(int(density * 1000) + shape[1])
    speckle = rng.random(shape) < density
    blob = np.zeros(shape, dtype=np.uint8)
    blob[shape[0] // 4 : shape[0] // 2, shape[1] // 3 :] = 1  # runs that end at column ends and go on
    mask = (blob | speckle).astype(np.uint8) if density < 1 else speckle.astype(np.uint8)
    rle = coco_mask.encode(np.asfortranarray(mask))
    out = coco_to_mask(rle)
    assert out.flags.c_contiguous and out.dtype == np.uint8
    np.testing.assert_array_equal(out, coco_mask.decode(rle))
    np.testing.assert_array_equal(out, mask)
