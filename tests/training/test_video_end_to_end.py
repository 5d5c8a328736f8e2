"""Video end to end through the real Lightning path, for every video scheme: synthetic cell videos -> clips of
N = 2 frames -> tokens -> a few training steps with validation -> checkpoint -> ``Predictor.predict_video`` on
a held-out video whose size and length are not multiples of the window (P = 32, S = 8) or clip length."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from tests.training.training_helpers import tiny_config

from rleseg.config import Config, TokenizerConfig
from rleseg.data.sample import Sample
from rleseg.data.synthetic import SyntheticCellVideos
from rleseg.inference.predictor import Predictor
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter, build_tokenizer
from rleseg.training.build import build_datamodule, build_sources, build_trainer

VIDEO_SCHEMES = ("3d-c", "3d-f", "tac", "ltac")
FRAMES, MASK_SIZE, PATCH, MAX_LEN, STEPS = 2, 8, 32, 64, 3


def video_config(out_dir: Path, scheme: str, *, static_input: bool = False) -> Config:
    """The tiny training config on synthetic videos: 2 train videos of 3 frames at 32 x 32, validation every
    step (one batch of generated clips scored), ``STEPS`` optimiser steps."""
    cfg = tiny_config(out_dir, max_steps=STEPS, max_epochs=STEPS, val_every_n_epochs=1, val_max_batches=1)
    cfg.tokenizer = TokenizerConfig(name=scheme, mask_size=MASK_SIZE, num_frames=FRAMES, max_len=MAX_LEN)
    cfg.model.pix2seq.static_input = static_input
    cfg.data.source = "synthetic-cells-video"
    cfg.data.synthetic_size = PATCH
    cfg.data.synthetic_frames = 3
    cfg.data.synthetic_counts = [2, 1, 1]
    cfg.data.patch_size = PATCH
    return cfg


def train(cfg: Config) -> tuple[Pix2SeqSegmenter, L.Trainer, dict[str, torch.Tensor]]:
    """Fit with the same builders as ``rleseg train``; returns the task, the trainer and one training batch."""
    L.seed_everything(0)
    sources = build_sources(cfg)
    tok = build_tokenizer(cfg, len(sources["train"].classes) - 1)
    task = Pix2SeqSegmenter.from_tokenizer(cfg, tok, list(sources["train"].classes))
    dm = build_datamodule(cfg, task, sources)
    trainer = build_trainer(cfg, Path(cfg.train.out_dir))
    trainer.fit(task, dm)
    return task, trainer, next(iter(dm.train_dataloader()))


def held_out_video() -> Sample:
    """A test-split video (never trained on) of 3 frames at 40 x 48: 2 x 2 windows, clips at t = 0 and 1."""
    return SyntheticCellVideos("test", num_videos=1, num_frames=3, size=(40, 48), seed=0)[0]


def encoder_memory(task: Pix2SeqSegmenter, clip: torch.Tensor) -> torch.Tensor:
    """Encoder output ``(1, M, D)`` for one uint8 clip ``(N, 3, P, P)``."""
    with torch.no_grad():
        return task.model.eval().encode(clip[None])


@pytest.mark.parametrize("scheme", VIDEO_SCHEMES)
def test_video_scheme_trains_reloads_and_predicts_a_held_out_video(tmp_path: Path, scheme: str) -> None:
    task, trainer, batch = train(video_config(tmp_path, scheme))
    assert trainer.global_step == STEPS
    assert batch["image"].shape == (4, FRAMES, 3, PATCH, PATCH)
    assert batch["mask"].shape == (4, FRAMES, MASK_SIZE, MASK_SIZE)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    assert "val/dice" in trainer.callback_metrics, "validation generated clips and scored them"

    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    predictor = Predictor.from_checkpoint(ckpt, batch_size=4)
    loaded = predictor.segmenter
    assert loaded.tok == task.tok and loaded.tok.vocab == task.tok.vocab
    assert loaded.tok.name == scheme and loaded.tok.mask_shape == (FRAMES, MASK_SIZE, MASK_SIZE)
    assert loaded.cfg == task.cfg and loaded.class_names == ["background", "ipsc", "dfc"]
    task = task.cpu().eval()
    with torch.no_grad():
        want = task(batch["image"], batch["inputs"])
        got = loaded(batch["image"], batch["inputs"])
    assert torch.allclose(want, got, atol=1e-5), "the checkpoint reloads the trained weights"

    video = held_out_video()
    clip = torch.from_numpy(video.image[:FRAMES, :PATCH, :PATCH]).permute(0, 3, 1, 2)
    later = clip.clone()
    later[1] = 255 - later[1]
    assert not torch.allclose(encoder_memory(loaded, clip), encoder_memory(loaded, later)), "every frame is seen"

    out = predictor.predict_video(video.image, frame_stride=1)
    assert out.mask.shape == video.mask.shape == (3, 40, 48)
    assert out.mask.min() >= 0 and out.mask.max() <= 2
    assert out.instances is None
    assert out.token_lengths.shape == (2 * 2 * 2,)  # 2 clips x 2 x 2 spatial windows
    assert ((out.token_lengths >= 1) & (out.token_lengths <= MAX_LEN)).all()


def test_static_input_ablation_trains_and_ignores_later_frames(tmp_path: Path) -> None:
    """Paper V-D2: a video model that sees only each clip's first frame still writes masks for all N."""
    task, trainer, _ = train(video_config(tmp_path, "tac", static_input=True))
    assert trainer.global_step == STEPS
    predictor = Predictor.from_checkpoint(tmp_path / "checkpoints" / "last.ckpt", batch_size=4)
    assert predictor.segmenter.cfg.model.pix2seq.static_input and predictor.segmenter.tok == task.tok

    video = held_out_video()
    clip = torch.from_numpy(video.image[:FRAMES, :PATCH, :PATCH]).permute(0, 3, 1, 2)
    later = clip.clone()
    later[1] = 255 - later[1]
    memory = encoder_memory(predictor.segmenter, clip)
    assert memory.shape[1] == encoder_memory(predictor.segmenter, clip[:1]).shape[1], "one frame's features"
    assert torch.equal(memory, encoder_memory(predictor.segmenter, later)), "the second frame is not seen"

    out = predictor.predict_video(video.image)
    assert out.mask.shape == (3, 40, 48)
    assert out.mask.min() >= 0 and out.mask.max() <= 2
