"""Tokenization statistics: the paper's vocabulary arithmetic, lengths of hand-made masks, subsampling."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from rleseg.tokenizers.stats import (
    Geometry,
    LengthStats,
    SchemeSpec,
    SubsamplingLoss,
    length_stats,
    make_geometries,
    subsampling_loss,
    vocab_row,
    vocab_table,
    write_csv,
    write_json,
)


# ----- vocabulary sizes: the paper's Tables 7-10 and section III-C --------------------------------------
@pytest.mark.parametrize(
    ("scheme", "s", "c", "n", "paper_k"),
    [
        # Table 8, S = 80, binary (C + 1 = 2)
        ("3d-c", 80, 1, 2, 12.88),
        ("3d-f", 80, 1, 2, 12.96),
        ("tac", 80, 1, 2, 6.48),
        ("ltac", 80, 1, 2, 6.64),
        ("3d-f", 80, 1, 9, 58.32),
        ("tac", 80, 1, 12, 10.58),
        ("tac", 80, 1, 16, 72.02),
        ("ltac", 80, 1, 16, 5249.2),
        # Table 8, S = 80, multi-class (C + 1 = 3); the paper's "LAC" video column is 3D-C with LAC tokens
        ("3d-c", 80, 2, 2, 12.88),
        ("3d-c:classes=lac", 80, 2, 3, 19.36),
        ("tac", 80, 2, 2, 6.49),
        ("tac", 80, 2, 9, 26.16),
        ("ltac", 80, 2, 2, 7.04),
        ("ltac", 80, 2, 4, 12.8),
        # Table 7, S = 40
        ("tac", 40, 1, 6, 1.7),
        ("ltac", 40, 2, 6, 30.72),
        ("ltac", 40, 2, 8, 264),
        # Table 9, S = 128
        ("tac", 128, 1, 14, 32.9),
        ("3d-c", 128, 1, 2, 32.9),
    ],
)
def test_vocab_matches_paper_tables(scheme: str, s: int, c: int, n: int, paper_k: float) -> None:
    row = vocab_row(scheme, s, c, n)
    assert row["V"] / 1000 == pytest.approx(paper_k, abs=0.006)  # the paper rounds to 10 tokens
    assert row["V"] == row["starts"] + row["lengths"] + row["class_tokens"]
    assert row["V_with_specials"] == row["V"] + 3
    assert row["over_limit"] == (row["V"] >= 32_000)


def test_vocab_columns_and_lac_example() -> None:
    # section III-C: S = 80, C = 2: 6400 starts + 160 LAC tokens = 6560; without LAC 6400 + 80 + 2 = 6482
    lac = vocab_row("lac", 80, 2)
    assert (lac["starts"], lac["lengths"], lac["class_tokens"], lac["V"]) == (6400, 0, 160, 6560)
    mc = vocab_row("multiclass", 80, 2)
    assert (mc["starts"], mc["lengths"], mc["class_tokens"], mc["V"]) == (6400, 80, 2, 6482)
    assert lac["N"] is None  # static schemes take no N
    # 2-D starts: S coordinate tokens instead of S^2 starts
    assert vocab_row("lac:starts=2d", 80, 2)["starts"] == 80
    # binary on multi-class data is binarised and says so
    b = vocab_row("binary", 80, 2)
    assert b["C"] == 1 and "binarised" in b["note"]
    # TAC classes (C + 1)^N - 1
    assert vocab_row("tac", 80, 2, 3)["class_tokens"] == 26


def test_vocab_table_shape_and_huge_vocabularies() -> None:
    rows = vocab_table("lac,tac,ltac", 80, [1, 2], [2, 16])
    # per C: lac once, tac and ltac for each N
    assert len(rows) == 2 * (1 + 2 * 2)
    big = next(r for r in rows if r["scheme"] == "ltac" and r["C"] == 2 and r["N"] == 16)
    assert big["class_tokens"] == 80 * (3**16 - 1)  # built without allocating anything of that size
    assert big["over_limit"]


# ----- scheme specs and geometry ------------------------------------------------------------------------
def test_scheme_spec_parsing() -> None:
    spec = SchemeSpec.parse("3d-c:classes=lac:binary")
    assert spec.name == "3d-c" and dict(spec.options) == {"classes": "lac"} and spec.binarize
    assert spec.label == "3d-c:classes=lac:binary"
    assert spec.is_video and not SchemeSpec.parse("lac").is_video
    with pytest.raises(ValueError, match="unknown tokenizer"):
        SchemeSpec.parse("nope")
    with pytest.raises(ValueError, match="neither"):
        SchemeSpec.parse("lac:col")
    with pytest.raises(ValueError, match="order must be one of"):
        LengthStats("lac:order=diag")


def test_geometry_windows() -> None:
    mask = np.arange(64).reshape(8, 8) % 3
    g = Geometry(patch_size=4, mask_size=2)
    wins = g.windows(mask, video=False)
    assert len(wins) == 4 and all(w.shape == (2, 2) for w in wins)
    np.testing.assert_array_equal(wins[0], mask[1:4:2, 1:4:2])  # centre pixel of each 2x2 cell
    # P not dividing the size: padded with background
    assert len(Geometry(patch_size=5).tiles(mask)) == 4
    assert Geometry(patch_size=5).tiles(mask)[3][3:, :].sum() == 0
    # resize to I x I first
    assert Geometry(image_size=16, patch_size=8).windows(mask, video=False)[0].shape == (8, 8)
    # clips: T = 5, N = 2 -> starts 0, 2, 3 (the last clip ends at the last frame)
    video = np.arange(5)[:, None, None] * np.ones((5, 4, 4), dtype=int)
    clips = Geometry(num_frames=2).clips(video)
    assert [int(c[0, 0, 0]) for c in clips] == [0, 2, 3]
    assert [int(c[0, 0, 0]) for c in Geometry(num_frames=2, frame_stride=1).clips(video)] == [0, 1, 2, 3]
    short = Geometry(num_frames=3).clips(video[:1])
    assert len(short) == 1 and short[0].shape == (3, 4, 4)  # the last frame repeated
    with pytest.raises(ValueError, match="larger than"):
        Geometry(image_size=320, patch_size=640)
    with pytest.raises(ValueError, match="S must be <= P"):
        Geometry(patch_size=80, mask_size=160)
    assert len(make_geometries([640], [640], [160, 80], [2, 3])) == 4


# ----- Tables 3-6: lengths of hand-made masks -----------------------------------------------------------
# Row-major runs: row 0 (1, len 2, class 1); row 1 (4, len 4, class 1); row 3 (12, len 1, class 1),
# (13, len 1, class 2), (15, len 1, class 1). Binarised, the two touching runs of row 3 merge: 4 runs.
MASK = np.array([[0, 1, 1, 0], [1, 1, 1, 1], [0, 0, 0, 0], [1, 2, 0, 1]], dtype=np.uint8)


def _row(rows: list[dict], scheme: str) -> dict:
    return next(r for r in rows if r["scheme"] == scheme)


def test_lengths_of_a_hand_made_mask() -> None:
    rows = length_stats([MASK], "binary,lac,multiclass,cw", num_classes=2, thresholds=(8, 10))
    assert _row(rows, "lac")["mean"] == 10  # 5 runs x 2
    assert _row(rows, "multiclass")["max"] == 15  # 5 runs x 3
    assert _row(rows, "binary")["mean"] == 8  # 4 runs x 2 after binarising
    assert _row(rows, "binary")["binarised"] and _row(rows, "binary")["C"] == 1
    assert _row(rows, "cw")["mean"] == 2 * 5 + 2  # class 1: 4 runs, class 2: 1 run, two class tokens
    lac = _row(rows, "lac")
    assert (lac["over_8"], lac["over_10"]) == (1.0, 0.0)
    assert lac["suggested_L"] == 10 and lac["V"] == 16 + 8  # 16 starts + 2 x 4 LAC tokens
    assert (lac["S"], lac["windows"], lac["empty"]) == (4, 1, 0)


def test_lengths_count_eos_shares_and_suggestion() -> None:
    empty = np.zeros((4, 4), dtype=np.uint8)
    full = np.ones((4, 4), dtype=np.uint8)  # 4 runs: 8 tokens
    st = LengthStats("lac", thresholds=(4, 6, 8, 16), num_classes=1)
    for m in [MASK.clip(0, 1)] + [full] * 60 + [empty]:
        st.add(m)
    row = st.rows()[0]
    assert row["windows"] == 62 and row["empty"] == 1 and row["max"] == 8
    assert row["over_4"] == pytest.approx(61 / 62)
    assert row["suggested_L"] == 8  # nothing is longer than 8
    eos = length_stats([full], "lac", count_eos=True)[0]
    assert eos["mean"] == 9


def test_lengths_column_order_and_patches() -> None:
    tall = np.zeros((4, 4), dtype=np.uint8)
    tall[:, 1] = 1  # one column: 4 runs row-major, 1 run column-major
    rows = length_stats([tall], "lac,lac:order=col", num_classes=1)
    assert _row(rows, "lac")["mean"] == 8 and _row(rows, "lac:order=col")["mean"] == 2
    # 8 x 8 mask cut in four 4 x 4 windows
    rows = length_stats([np.tile(tall, (2, 2))], "lac", Geometry(patch_size=4), num_classes=1)
    assert rows[0]["windows"] == 4 and rows[0]["mean"] == 8 and rows[0]["P"] == 4


def test_video_lengths() -> None:
    video = np.stack([MASK, MASK, np.zeros_like(MASK)])
    rows = length_stats([video], "lac,3d-c,tac,ltac", make_geometries(frames=[2]), num_classes=2, thresholds=(100,))
    # static schemes take every frame: 2 frames of 5 runs, one empty frame
    assert _row(rows, "lac")["windows"] == 3 and _row(rows, "lac")["mean"] == pytest.approx(20 / 3, abs=0.01)
    # clips [0, 1] and [1, 2]: identical frames give the static runs with one TAC class each
    assert _row(rows, "3d-c")["windows"] == 2
    assert _row(rows, "3d-c")["max"] == 3 * 10  # 10 runs over two frames, 3 tokens each
    assert _row(rows, "tac")["max"] == 3 * 5
    assert _row(rows, "ltac")["max"] == 2 * 5
    assert _row(rows, "tac")["N"] == 2 and _row(rows, "lac")["N"] is None


def test_length_errors() -> None:
    with pytest.raises(ValueError, match="class id 2, above num_classes=1"):
        LengthStats("lac", num_classes=1).add(MASK)
    with pytest.raises(ValueError, match="need videos"):
        LengthStats("tac").add(MASK)
    with pytest.raises(ValueError, match="instance masks"):
        LengthStats("iw").add(MASK)
    # iw with instances works
    inst = (MASK > 0).astype(np.int32) * np.arange(16).reshape(4, 4)
    rows = length_stats([(MASK, inst)], "iw", num_classes=2)
    assert rows[0]["mean"] == 9 * 2 + 9  # every pixel its own instance: 9 one-pixel runs + 9 class tokens


def test_inferred_num_classes() -> None:
    st = LengthStats("lac")
    st.add(MASK * 3)  # ids 0, 3, 6
    assert st.rows()[0]["C"] == 6 and st.meta()["num_classes_inferred"]


# ----- Table 11: subsampling loss -----------------------------------------------------------------------
def test_block_constant_mask_loses_nothing() -> None:
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 3, size=(8, 8))
    mask = np.kron(blocks, np.ones((4, 4), dtype=np.int64))  # 32 x 32, constant on 4 x 4 blocks
    rows = subsampling_loss([mask], make_geometries(mask_sizes=[16, 8]))
    for row in rows:
        for key in ("recall", "precision", "dice", "recall_agnostic", "precision_agnostic", "dice_agnostic"):
            assert row[key] == 1.0
    assert [r["factor"] for r in rows] == [2, 4]


def test_subsampling_loss_by_hand() -> None:
    # class 1 on the top-left 2 x 2 block except pixel (0, 0); subsampling by 2 keeps pixel (1, 1) of
    # each block, so the block comes back whole: gt 3 px, prediction 4 px, overlap 3
    mask = np.zeros((4, 4), dtype=np.uint8)
    mask[:2, :2] = 1
    mask[0, 0] = 0
    loss = SubsamplingLoss(Geometry(mask_size=2))
    loss.add(mask)
    loss.add(np.zeros((4, 4), dtype=np.uint8))  # no foreground: counted, not scored
    row = loss.rows()[0]
    assert (row["windows"], row["empty"]) == (2, 1)
    assert row["recall"] == 1.0
    assert row["precision"] == pytest.approx(3 / 4)
    assert row["dice"] == pytest.approx(6 / 7, abs=1e-6)


def test_subsampling_pooled_differs_from_window_average() -> None:
    # window A loses nothing of its 3-pixel object's overlap but gains a pixel (Dice 6/7); window B is all
    # class 1 and comes back whole (Dice 1). Averaged per window: (6/7 + 1) / 2; pooled as evaluate does:
    # overlap 3 + 16, prediction 4 + 16, truth 3 + 16 pixels -> 2 * 19 / 39
    a = np.zeros((4, 4), dtype=np.uint8)
    a[:2, :2] = 1
    a[0, 0] = 0
    loss = SubsamplingLoss(Geometry(mask_size=2))
    loss.add(a)
    loss.add(np.ones((4, 4), dtype=np.uint8))
    row = loss.rows()[0]
    assert row["dice"] == pytest.approx((6 / 7 + 1) / 2, abs=1e-6)
    assert row["dice_pooled"] == pytest.approx(38 / 39, abs=1e-6)
    assert row["dice_agnostic_pooled"] == pytest.approx(38 / 39, abs=1e-6)


# ----- writing ------------------------------------------------------------------------------------------
def test_write_csv_and_json(tmp_path) -> None:
    rows = length_stats([MASK], "lac,multiclass", num_classes=2)
    write_csv(rows, tmp_path / "t.csv")
    write_json(rows, tmp_path / "t.json", {"table": "x", "nan": float("nan")})
    with (tmp_path / "t.csv").open() as fh:
        back = list(csv.DictReader(fh))
    assert len(back) == 2 and back[0]["scheme"] == "lac" and back[0]["N"] == ""
    doc = json.loads((tmp_path / "t.json").read_text())
    assert len(doc["rows"]) == 2 and doc["rows"][0]["N"] is None and doc["meta"]["nan"] is None
