"""Clip models that write each frame as its own sequence (``frame_fusion: per-frame``): the frame scheme
carries exactly the 3d-c clip's runs, every frame's sequence sees the whole clip with its own frame marked
and points at its own frame's grid, and predictions come back as clips."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from tests.models.test_pointer import TINY

from rleseg.config import Config, TokenizerConfig
from rleseg.data.mixed_clips import MixedClips
from rleseg.models.pix2seq import ModelConfig, Pix2SeqModel
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.tokenizers import create_tokenizer
from rleseg.tokenizers.frame_scheme import frame_tokenizer
from rleseg.tokenizers.vocab import EOS

PER_FRAME = dataclasses.replace(TINY, dense_loss_weight=0.0, frame_fusion="per-frame")


def clip_tokenizer(classes: str = "lac", num_classes: int = 2, **kw: object):
    return create_tokenizer("3d-c", mask_size=8, num_classes=num_classes, num_frames=2, classes=classes, **kw)


def random_clip(rng: np.random.Generator, shape: tuple[int, ...] = (2, 8, 8)) -> np.ndarray:
    """A clip of blocky class ids 0..2 (runs of several pixels)."""
    return np.repeat(rng.integers(0, 3, size=(*shape[:-1], shape[-1] // 2)), 2, axis=-1).astype(np.uint8)


@pytest.mark.parametrize(
    ("classes", "num_classes", "scheme"), [("lac", 2, "lac"), ("token", 2, "multiclass"), ("token", 1, "binary")]
)
def test_frame_scheme_matches_the_clip_scheme(classes: str, num_classes: int, scheme: str) -> None:
    clip_tok = clip_tokenizer(classes, num_classes, order="col", max_len=77)
    tok = frame_tokenizer(clip_tok)
    assert tok.name == scheme and tok.mask_shape == (8, 8) and tok.num_classes == num_classes
    assert (tok.order, tok.max_len) == ("col", 38), "an even share of the clip's budget L"
    with pytest.raises(ValueError, match="needs the 3d-c scheme.*'ltac'"):
        frame_tokenizer(create_tokenizer("ltac", mask_size=8, num_classes=2, num_frames=2))


def test_frame_sequences_are_the_clip_sequence_cut_at_frame_boundaries() -> None:
    """Each frame's tokens, starts shifted by the frame's offset, concatenate to the 3d-c tokens."""
    clip_tok = clip_tokenizer()
    tok = frame_tokenizer(clip_tok)
    rng = np.random.default_rng(0)
    for _ in range(20):
        clip = random_clip(rng)
        pieces = []
        for t in range(2):
            frame = tok.encode(clip[t])
            assert frame[-1] == EOS
            np.testing.assert_array_equal(tok.decode(frame), clip[t])
            body = frame[:-1].copy()
            names = np.asarray(tok.vocab.names)[tok.vocab.range_of(body)]
            for name in ("starts", "lac"):
                at = names == name
                shift = t * 64 if name == "starts" else 0
                body[at] = body[at] - tok.vocab[name].start + clip_tok.vocab[name].start + shift
            pieces.append(body)
        np.testing.assert_array_equal(np.concatenate([*pieces, [EOS]]), clip_tok.encode(clip))


def test_every_frame_sequence_sees_the_clip_and_points_at_its_own_frame() -> None:
    torch.manual_seed(0)
    model = Pix2SeqModel(clip_tokenizer(max_len=64), PER_FRAME).eval()
    assert model.per_frame_sequences and model.sequence_tokenizer.name == "lac"
    assert model.vocab_size == model.sequence_tokenizer.vocab_size and model.fine_cells == 64
    clips = torch.rand(3, 2, 3, 32, 32)
    with torch.no_grad():
        memory = model.encode(clips)
        hw = (memory.shape[1] - 64) // 2  # coarse rows per frame
        assert memory.shape == (6, 2 * hw + 64, TINY.dim)
        coarse = memory[:, : 2 * hw].view(3, 2, 2 * hw, TINY.dim)  # (clip, sequence, rows, D)
        own = model.own_frame
        # each sequence holds its own frame's rows first, marked, then the other frame's rows unmarked
        torch.testing.assert_close(coarse[:, 0, :hw] - coarse[:, 1, hw:], own.expand(3, hw, -1))
        torch.testing.assert_close(coarse[:, 1, :hw] - coarse[:, 0, hw:], own.expand(3, hw, -1))
        changed = clips.clone()
        changed[:, 1] = torch.rand(3, 3, 32, 32)  # only the second frame differs
        fine = model.split_memory(memory)[1].view(3, 2, 64, -1)
        fine2 = model.split_memory(model.encode(changed))[1].view(3, 2, 64, -1)
        moved = (fine - fine2).abs().mean(dim=(0, 2, 3))
        # the encoder mixes the frames, so frame 0's grid moves a little too; frame 1's far more
        assert moved[1] > 3 * moved[0]
        logits = model(clips, torch.full((6, 3), 2))
    assert logits.shape == (6, 3, model.vocab_size)


def test_per_frame_refuses_options_that_do_not_write_every_frame() -> None:
    for other in ("static_input", "multi_head"):
        with pytest.raises(ValueError, match=f"per-frame writes every frame of a clip.*{other}"):
            ModelConfig(frame_fusion="per-frame", **{other: True})
    with pytest.raises(
        ValueError, match="frame_fusion=per-frame: one sequence per frame needs the 3d-c scheme.*got tokenizer '3d-f'"
    ):
        Pix2SeqModel(create_tokenizer("3d-f", mask_size=8, num_classes=2, num_frames=2), PER_FRAME)
    image = Pix2SeqModel(create_tokenizer("lac", mask_size=8, num_classes=2), PER_FRAME)
    assert not image.per_frame_sequences and image.own_frame is None, "an image model has one frame"


def segmenter() -> Pix2SeqSegmenter:
    cfg = Config(tokenizer=TokenizerConfig(name="3d-c", mask_size=8, num_frames=2, classes="lac", max_len=256))
    cfg.model.pix2seq = PER_FRAME
    cfg.data.patch_size = 32
    torch.manual_seed(0)
    return Pix2SeqSegmenter.create(cfg, ["background", "a", "b"])


def clip_items(clips: list[np.ndarray]) -> list[dict[str, object]]:
    items = []
    for k, clip in enumerate(clips):
        mask = torch.from_numpy(clip.astype(np.int64))
        items.append(
            {
                "image": torch.rand(2, 3, 32, 32),
                "mask": mask,
                "instances": torch.zeros_like(mask),
                "mask_full": mask,
                "name": f"clip{k}",
                "window_key": (0, 0, k),
            }
        )
    return items


def test_targets_are_one_sequence_per_frame_and_predictions_come_back_as_clips(monkeypatch) -> None:
    seg = segmenter()
    rng = np.random.default_rng(1)
    clips = [random_clip(rng) for _ in range(3)]
    batch = seg.collate()(clip_items(clips))
    assert batch["targets"].shape[0] == 6 and batch["image"].shape[:2] == (3, 2)
    tok = seg.sequence_tokenizer
    for row, (k, t) in enumerate((k, t) for k in range(3) for t in range(2)):
        np.testing.assert_array_equal(tok.decode(batch["targets"][row].numpy()), clips[k][t])
    loss, _ = seg.loss(batch)
    assert torch.isfinite(loss)
    # a model that writes the targets: the clips and the 3d-c sequence lengths come back
    monkeypatch.setattr(seg, "generate_tokens", lambda images: batch["targets"])
    pred = seg.predict_windows(batch["image"])
    np.testing.assert_array_equal(pred.masks.numpy(), np.stack(clips))
    expected = [seg.tokenizer.encode(clip).size for clip in clips]
    assert pred.extras["lengths"].tolist() == expected
    assert "one sequence per frame" in dict(seg.describe())["model"]


def test_a_few_steps_fit_one_clip_and_generation_writes_both_frames() -> None:
    seg = segmenter()
    rng = np.random.default_rng(2)
    batch = seg.collate()(clip_items([random_clip(rng)]))
    opt = torch.optim.AdamW(seg.parameters(), lr=3e-3)
    first = None
    for _ in range(30):
        loss, _ = seg.loss(batch)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    seg.eval()
    pred = seg.predict_windows(batch["image"])
    assert pred.masks.shape == (1, 2, 8, 8)


def test_the_frame_warmup_mixes_clips_whose_frame_sequences_are_other_windows_frames() -> None:
    seg = segmenter()
    rng = np.random.default_rng(3)
    clips = [random_clip(rng) for _ in range(4)]
    batch = MixedClips(seg.collate(), 2)(clip_items(clips))  # 4 windows -> 2 clips of 2 frames
    assert batch["mask"].shape == (2, 2, 8, 8) and batch["targets"].shape[0] == 4
    tok = seg.sequence_tokenizer
    for row in range(4):
        frame = batch["mask"][row // 2, row % 2].numpy()
        np.testing.assert_array_equal(tok.decode(batch["targets"][row].numpy()), frame)
    window_of = {clip[t].astype(np.int64).tobytes(): k for k, clip in enumerate(clips) for t in range(2)}
    for mixed in batch["mask"].numpy():
        windows = [window_of[frame.tobytes()] for frame in mixed]  # KeyError: a frame no window holds
        assert windows[0] != windows[1], "a mixed clip's frames come from different windows"
