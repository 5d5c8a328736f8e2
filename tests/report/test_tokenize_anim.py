"""Tokenization animations: driven by the real tokenizer, exact for every scheme, GIF and strip written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from rleseg.report.token_examples import example_mask
from rleseg.report.token_frames import chunk_steps, plan_frames
from rleseg.report.token_text import scheme_summary, token_names
from rleseg.report.token_trace import same_partition, trace_tokenization
from rleseg.report.tokenize_anim import key_frames, tokenize_animation, write_gif
from rleseg.tokenizers import create_tokenizer, list_tokenizers
from rleseg.tokenizers.vocab import EOS

VIDEO = ("3d-c", "3d-f", "tac", "ltac")
S = 8


def _image() -> tuple[np.ndarray, np.ndarray]:
    """An 8x8 mask with two classes (a run touching the line end, a run at the last pixel) and instances."""
    mask = np.zeros((S, S), np.uint8)
    mask[1, 2:8] = 1
    mask[2:5, 1:4] = 2
    mask[5:7, 5:7] = 1
    mask[7, 7] = 2
    inst = np.zeros((S, S), np.int32)
    inst[1, 2:8] = 7
    inst[2:5, 1:4] = 3
    inst[5:7, 5:7] = 9
    return mask, inst  # (7, 7) is class 2 without an instance: stuff for iw


def _video() -> np.ndarray:
    first, _ = _image()
    second = np.roll(first, 1, axis=1)
    second[0, 0] = 1
    return np.stack([first, second])


def _case(scheme: str, **opts: Any) -> tuple[Any, np.ndarray, np.ndarray | None]:
    mask, inst = _image()
    kw: dict[str, Any] = {"mask_size": S, "num_classes": 1 if scheme in ("binary",) else 2, **opts}
    if scheme in VIDEO:
        kw["num_frames"] = 2
        mask = _video()
    if scheme == "binary":
        mask = (mask > 0).astype(np.uint8)
    return create_tokenizer(scheme, **kw), mask, inst if scheme == "iw" else None


CASES = [(s, {}) for s in list_tokenizers()] + [
    ("lac", {"order": "col", "starts": "2d"}),
    ("iw", {"order": "col"}),
    ("bac", {"classes": "lac"}),
    ("diff", {"starts": "2d"}),
    ("3d-f", {"classes": "lac"}),
]


@pytest.mark.parametrize(("scheme", "opts"), CASES, ids=[f"{s}-{'-'.join(map(str, o.values()))}" for s, o in CASES])
def test_every_scheme_animates_exactly(scheme: str, opts: dict[str, Any], tmp_path: Path) -> None:
    tok, mask, inst = _case(scheme, **opts)
    result = tokenize_animation(tok, mask, tmp_path, instances=inst, max_frames=12)
    with Image.open(result.gif) as gif:
        assert 1 < gif.n_frames <= 12
    with Image.open(result.strip) as strip:
        assert strip.size[0] > 100 and strip.size[1] > 100
    assert result.gif.name == f"tokenize-{scheme}.gif" and result.strip.name == f"tokenize-{scheme}.png"
    frames = result.frames
    # the first frame shows nothing decoded; the last frame's decoded mask is the input, exactly
    assert not frames[0].mask.any() and frames[0].num_tokens == 0
    assert np.array_equal(frames[-1].mask, mask)
    if inst is not None:
        assert frames[-1].instances is not None and same_partition(frames[-1].instances, inst)
    # runs are only ever added: a decoded pixel never changes afterwards
    for before, after in zip(frames, frames[1:], strict=False):
        painted = before.mask != 0
        assert np.array_equal(after.mask[painted], before.mask[painted])
        assert after.num_tokens > before.num_tokens
    # the final token list holds every token, in order, one line per step
    tokens = result.trace.tokens
    listed = [t for line in frames[-1].lines for t in line.tokens]
    assert listed == tokens.tolist() and listed[-1] == EOS
    assert len(frames[-1].lines) == len(result.trace.steps) - 1
    # the highlights of all frames together cover every foreground pixel
    covered = np.zeros(mask.shape, bool)
    for f in frames:
        covered |= f.current
    assert covered[mask != 0].all()


@pytest.mark.parametrize("scheme", ["binary", "multiclass", "lac", "3d-c", "3d-f", "tac", "ltac", "bac"])
def test_frame_masks_are_the_decoding_of_the_tokens_so_far(scheme: str) -> None:
    tok, mask, _ = _case(scheme)
    trace = trace_tokenization(tok, mask)
    for frame in plan_frames(trace, max_frames=1000):
        assert np.array_equal(frame.mask, tok.decode(trace.tokens[: frame.num_tokens]))


def test_each_lac_step_paints_exactly_its_run() -> None:
    tok, mask, _ = _case("lac")
    trace = trace_tokenization(tok, mask)
    frames = plan_frames(trace)
    starts, lengths, values = tok.runs(mask)
    assert len(frames) == len(starts) + 2  # empty start, one frame per run, EOS
    for frame, s, n, v in zip(frames[1:-1], starts, lengths, values, strict=True):
        expected = np.zeros(S * S, bool)
        expected[s : s + n] = True
        assert np.array_equal(frame.fill.reshape(-1), expected)
        assert (frame.mask.reshape(-1)[s : s + n] == v).all()


def test_grouped_runs_stay_pending_until_their_class_token() -> None:
    tok, mask, _ = _case("cw")
    trace = trace_tokenization(tok, mask)
    first_group = next(i for i, s in enumerate(trace.steps) if s.kind == "group")
    before = trace.steps[first_group - 1]
    assert before.kind == "pending" and before.pending.any() and not before.mask.any()
    closed = trace.steps[first_group]
    assert np.array_equal(closed.mask != 0, before.pending) and not closed.pending.any()
    assert all(trace.steps[i].commit == first_group for i in range(1, first_group))


def test_many_runs_are_grouped_into_at_most_max_frames(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    mask = (rng.random((16, 16)) < 0.5).astype(np.uint8) * rng.integers(1, 3, (16, 16)).astype(np.uint8)
    tok = create_tokenizer("lac", mask_size=16, num_classes=2)
    result = tokenize_animation(tok, mask, tmp_path, max_frames=12)
    assert len(result.frames) <= 12 and result.trace.num_runs > 60
    assert result.frames[0].last == 0 and result.frames[-1].first == len(result.trace.steps) - 1
    shown = sorted(i for f in result.frames for i in range(f.first, f.last + 1))
    assert shown == list(range(len(result.trace.steps)))  # every step in exactly one frame
    for frame in result.frames:  # a grouped frame shows the state after its last step
        assert frame.num_tokens == result.trace.steps[frame.last].stop
        assert np.array_equal(frame.mask, tok.decode(result.trace.tokens[: frame.num_tokens]))
    assert np.array_equal(result.frames[-1].mask, mask)
    with Image.open(result.gif) as gif:
        assert 1 < gif.n_frames <= 12


def test_chunks_and_key_frames() -> None:
    assert chunk_steps(5, 10) == [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)]
    chunks = chunk_steps(102, 12)
    assert len(chunks) == 12 and chunks[0] == (0, 0) and chunks[-1] == (101, 101)
    assert [b - a + 1 for a, b in chunks[1:-1]] == [10] * 10
    assert chunk_steps(50, 2) == [(0, 0), (1, 49)]
    with pytest.raises(ValueError, match="max_frames must be at least 2"):
        chunk_steps(5, 1)
    assert key_frames(20, 4) == [5, 10, 14, 19] and key_frames(2, 4) == [0, 1] and key_frames(1) == [0]


def test_token_names_say_what_each_token_means() -> None:
    tok = create_tokenizer("lac", mask_size=8, num_classes=2)
    assert token_names(tok, tok.encode(_image()[0])[:2], ["background", "ipsc", "dfc"]) == [
        "start 10 (1,2)",
        "LAC ipsc len 6",
    ]
    tac = create_tokenizer("tac", mask_size=8, num_classes=2, num_frames=2)
    tokens = tac.encode(_video())
    names = token_names(tac, tokens)
    assert names[-1] == "EOS" and names[2].startswith("TAC ") and names[2].endswith("]")
    bac = create_tokenizer("bac", mask_size=8, num_classes=2)
    assert token_names(bac, bac.encode(_image()[0])[:4]) == ["len 8", "bg", "len 2", "bg"]
    three = create_tokenizer("3d-c", mask_size=8, num_classes=2, num_frames=2)
    assert token_names(three, [three.vocab["starts"].start + 64 + 9]) == ["start 73 F2 (1,1)"]
    assert token_names(tok, [10**6]) == ["? 1000000"]
    assert "(start, LAC) per run" in scheme_summary(tok) and "row-major" in scheme_summary(tok)


def test_bad_input_is_refused_clearly(tmp_path: Path) -> None:
    big = create_tokenizer("lac", mask_size=80, num_classes=2)
    with pytest.raises(ValueError, match=r"80x80 mask is too big .* mask size of 32 or less"):
        tokenize_animation(big, np.zeros((80, 80), np.uint8), tmp_path)
    tok, mask, inst = _case("iw")
    with pytest.raises(ValueError, match="give the instance ids"):
        tokenize_animation(tok, mask, tmp_path)
    lac, mask, _ = _case("lac")
    with pytest.raises(ValueError, match="leave instances out"):
        trace_tokenization(lac, mask, inst)
    with pytest.raises(ValueError, match="fps must be in"):
        tokenize_animation(lac, mask, tmp_path, fps=0)
    with pytest.raises(ValueError, match=r"shape \(4, 4\), expected \(8, 8\)"):
        tokenize_animation(lac, mask[:4, :4], tmp_path)
    with pytest.raises(ValueError, match="no frames to write"):
        write_gif(tmp_path / "x.gif", [], 3.0)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_synthetic_example_has_both_classes_and_instances() -> None:
    ex = example_mask(16)
    assert ex.mask.shape == (16, 16) and set(np.unique(ex.mask)) == {0, 1, 2}
    assert ex.instances.shape == (16, 16) and ex.instances.max() >= 2
    assert ex.class_names == ["background", "ipsc", "dfc"]
    video = example_mask(8, 3, binary=True)
    assert video.mask.shape == (3, 8, 8) and video.mask.max() == 1 and video.class_names[1] == "cell"
