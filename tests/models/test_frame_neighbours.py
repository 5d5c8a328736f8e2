"""Each frame's fine grid reading the clip's other frames nearby (``frame_neighbours``): it starts as the model
that reads each frame alone, then carries a change in one frame to the other frame's grid within its reach and
no further; the options that cannot use it are refused."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from tests.models.test_per_frame_sequences import PER_FRAME, clip_tokenizer

from rleseg.models.fine_map import FrameNeighbours
from rleseg.models.pix2seq import ModelConfig, Pix2SeqModel
from rleseg.tokenizers import create_tokenizer


def test_starts_as_the_identity_and_refuses_other_clip_lengths() -> None:
    torch.manual_seed(0)
    mix = FrameNeighbours(frames=2, dim=4, reach=3)
    grids = torch.rand(3, 2, 4, 6, 6)
    torch.testing.assert_close(mix(grids), grids)
    with pytest.raises(ValueError, match="clip of 3 frames, but the model mixes 2"):
        mix(torch.rand(1, 3, 4, 6, 6))
    with pytest.raises(ValueError, match="odd reach"):
        FrameNeighbours(frames=2, dim=4, reach=2)


def test_a_change_in_one_frame_reaches_the_other_frame_within_its_reach() -> None:
    mix = FrameNeighbours(frames=2, dim=4, reach=3)
    with torch.no_grad():
        mix.proj.weight.copy_(torch.eye(4).view(4, 4, 1, 1))  # as if trained: pass the spread features on
    grids = torch.zeros(1, 2, 4, 7, 7)
    poked = grids.clone()
    poked[0, 1, :, 3, 3] = 9.0  # one cell of frame 1
    moved = (mix(poked) - mix(grids)).abs().amax(dim=2)[0]  # (N, 7, 7)
    expected = torch.zeros(7, 7, dtype=torch.bool)
    expected[2:5, 2:5] = True  # frame 0: the 3 x 3 neighbourhood of the poked cell, 9 / 9 each
    torch.testing.assert_close(moved[0], expected.float())
    assert moved[1, 3, 3] == 9.0 and moved[1].count_nonzero() == 1, "frame 1 keeps its own features"


def test_the_model_reads_the_other_frame_at_the_start_grid_once_trained() -> None:
    tok = clip_tokenizer(max_len=64)
    torch.manual_seed(0)
    model = Pix2SeqModel(tok, dataclasses.replace(PER_FRAME, frame_neighbours=3)).eval()
    clips = torch.rand(1, 2, 3, 32, 32)
    changed = clips.clone()
    changed[:, 1] = torch.rand(1, 3, 32, 32)
    assert model.frame_neighbours is not None
    with torch.no_grad():
        before = model.encode_parts(clips)[0].fine, model.encode_parts(changed)[0].fine
        model.frame_neighbours.proj.weight.normal_()
        after = model.encode_parts(clips)[0].fine, model.encode_parts(changed)[0].fine
    assert before[0] is not None and before[1] is not None and after[0] is not None and after[1] is not None
    grid = 8 * 8
    # per-frame sequences: (B * N, S * S, D), frame 0 first; frame 0's grid reads frame 1 only through the mix
    frame0 = lambda fine: fine[0, :grid]  # noqa: E731
    coarse_only = (frame0(before[0]) - frame0(before[1])).abs().max()
    with_mix = (frame0(after[0]) - frame0(after[1])).abs().max()
    assert with_mix > coarse_only + 1e-2, f"{with_mix:.3g} against {coarse_only:.3g} through the coarse encoder"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"frame_neighbours": 2}, "0 \\(off\\) or an odd number of cells, got 2"),
        ({"frame_neighbours": 3, "frame_fusion": "concat"}, "frame_fusion per-frame or separate"),
        ({"frame_neighbours": 3, "fine_level": None, "pointer_starts": False}, "needs fine_level"),
    ],
)
def test_the_options_it_cannot_serve_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(PER_FRAME, **changes)


def test_a_model_that_reads_one_frame_refuses_it() -> None:
    cfg = dataclasses.replace(PER_FRAME, frame_neighbours=3)
    with pytest.raises(ValueError, match="frame_neighbours=3 mixes the fine grids.*reads one frame"):
        Pix2SeqModel(create_tokenizer("3d-c", mask_size=8, num_classes=2, num_frames=1, classes="lac"), cfg)


def test_old_model_configs_load_without_it() -> None:
    options = dataclasses.asdict(PER_FRAME)
    del options["frame_neighbours"]
    assert ModelConfig(**options).frame_neighbours == 0
