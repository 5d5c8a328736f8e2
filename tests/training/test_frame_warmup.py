"""``train.frame_warmup``: a clip model first trains on clips whose frames come from different windows
(``batch_size * N`` windows a batch, one frame of each), as many scenes a step as an image model sees, then on
real clips; the fraction is of whichever limit ends training first."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Timer
from tests.segmenters.test_pix2seq_d_cli import write_config
from tests.training.test_video_end_to_end import FRAMES, MASK_SIZE, PATCH, video_config
from tests.training.training_helpers import tiny_config

from rleseg.config import TrainSection, load_config
from rleseg.data.mixed_clips import MixedClips, mix_clip_frames
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter, build_tokenizer
from rleseg.segmenters.pix2seq_d import Pix2SeqDSegmenter
from rleseg.training.build import build_datamodule, build_sources, build_trainer, frame_warmup
from rleseg.training.progress import training_progress


def fake_trainer(**kw: Any) -> SimpleNamespace:
    """The trainer attributes :func:`training_progress` reads (no limits unless given)."""
    base: dict[str, Any] = {"callbacks": [], "max_steps": -1, "global_step": 0, "max_epochs": -1, "current_epoch": 0}
    return SimpleNamespace(**{**base, **kw})


def test_progress_is_the_largest_fraction_of_the_limits_set() -> None:
    assert training_progress(fake_trainer()) == 0.0
    assert training_progress(fake_trainer(max_steps=200, global_step=50)) == 0.25
    assert training_progress(fake_trainer(max_epochs=10, current_epoch=7, max_steps=200, global_step=50)) == 0.7
    timer = Timer(duration=timedelta(seconds=100))
    timer.load_state_dict({"time_elapsed": {"train": 40.0}})  # 40 s of a 100 s budget done (a resumed run)
    assert training_progress(fake_trainer(callbacks=[timer])) == pytest.approx(0.4)
    assert training_progress(fake_trainer(callbacks=[timer], max_steps=10, global_step=9)) == pytest.approx(0.9)
    assert training_progress(fake_trainer(max_steps=10, global_step=12)) == 1.0


def test_frame_warmup_must_be_a_fraction_below_one() -> None:
    with pytest.raises(ValueError, match=r"train.frame_warmup must be a fraction of training in \[0, 1\), got 1.0"):
        TrainSection(frame_warmup=1.0)
    with pytest.raises(ValueError, match="got -0.2"):
        TrainSection(frame_warmup=-0.2)


def clip_item(k: int, frames: int = 3) -> dict[str, Any]:
    """A clip window item whose frame f has image value 10 * k + f and instance ids 1 and 2."""
    image = torch.stack([torch.full((3, 4, 4), 10 * k + f, dtype=torch.int16) for f in range(frames)])
    instances = torch.zeros(frames, 2, 2, dtype=torch.int64)
    instances[:, 0, 0], instances[:, 1, 1] = 1, 2
    mask = (instances > 0).long() * (k % 2 + 1)
    full = torch.zeros(frames, 4, 4, dtype=torch.int64)
    return {
        "image": image,
        "mask": mask,
        "instances": instances,
        "mask_full": full,
        "name": f"w{k}",
        "window_key": (0, 0, k),
    }


def test_mixed_clips_take_one_frame_of_each_window() -> None:
    clips = mix_clip_frames([clip_item(k) for k in range(7)], 3)
    assert len(clips) == 2, "7 windows make 2 clips of 3 frames (the 7th is left out)"
    for c, clip in enumerate(clips):
        assert clip["image"].shape == (3, 3, 4, 4) and clip["mask"].shape == clip["instances"].shape == (3, 2, 2)
        windows = [int(clip["image"][j, 0, 0, 0]) // 10 for j in range(3)]
        assert windows == [3 * c, 3 * c + 1, 3 * c + 2], "frame j comes from the clip's j-th window"
        for j, k in enumerate(windows):
            assert int(clip["mask"][j, 0, 0]) == k % 2 + 1
        ids = [set(clip["instances"][j].unique().tolist()) - {0} for j in range(3)]
        assert ids == [{1, 2}, {3, 4}, {5, 6}], "instances of different windows never share an id"
        assert clip["name"] == f"w{3 * c}"
    frames_used = {int(mix_clip_frames([clip_item(k)], 1)[0]["image"][0, 0, 0, 0]) % 10 for k in range(40)}
    assert frames_used == {0, 1, 2}, "the frame kept varies with the window key"
    assert len(mix_clip_frames([clip_item(0)], 3)) == 1, "fewer windows than frames still make one clip"


def segmenter_and_sources(tmp_path: Path, warmup: float) -> tuple[Pix2SeqSegmenter, dict[str, Any], Any]:
    cfg = video_config(tmp_path, "3d-c")
    cfg.train.frame_warmup = warmup
    sources = build_sources(cfg)
    tok = build_tokenizer(cfg, len(sources["train"].classes) - 1)
    return Pix2SeqSegmenter.from_tokenizer(cfg, tok, list(sources["train"].classes)), sources, cfg


def test_datamodule_mixes_frames_until_the_fraction_then_gives_clips(tmp_path: Path) -> None:
    task, sources, cfg = segmenter_and_sources(tmp_path, 0.5)
    dm = build_datamodule(cfg, task, sources)
    assert dm.frame_warmup is not None and dm.frame_warmup.batch_size == cfg.data.batch_size * FRAMES
    dm.trainer = fake_trainer(max_steps=100, global_step=49)  # type: ignore[assignment]
    loader = dm.train_dataloader()
    assert isinstance(loader.collate_fn, MixedClips) and loader.batch_size == cfg.data.batch_size * FRAMES
    batch = next(iter(loader))
    b = batch["image"].shape[0]
    assert batch["image"].shape == (b, FRAMES, 3, PATCH, PATCH) and batch["mask"].shape[1:] == (
        FRAMES,
        MASK_SIZE,
        MASK_SIZE,
    )
    for k in range(b):  # the targets are the tokens of the mixed clip's labels
        tokens = batch["targets"][k, : int(batch["lengths"][k])].numpy()
        assert (task.tok.decode(tokens) == batch["mask"][k].numpy()).all()
    dm.trainer = fake_trainer(max_steps=100, global_step=50)  # type: ignore[assignment]
    loader = dm.train_dataloader()
    assert not isinstance(loader.collate_fn, MixedClips) and loader.batch_size == cfg.data.batch_size
    assert build_datamodule(video_config(tmp_path, "3d-c"), task, sources).frame_warmup is None


def test_image_models_are_refused(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, frame_warmup=0.3)
    cfg.data.source = "synthetic-cells"
    cfg.data.synthetic_size, cfg.data.synthetic_counts = 32, [2, 1, 1]
    sources = build_sources(cfg)
    task = Pix2SeqSegmenter.create(cfg, list(sources["train"].classes))
    with pytest.raises(ValueError, match=r"frame_warmup=0.3 mixes the frames.*model of single images"):
        build_datamodule(cfg, task, sources)


def test_streaming_models_are_refused(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path / "v.yaml", video=True, previous_frames=1), ["train.frame_warmup=0.5"])
    model = Pix2SeqDSegmenter.create(cfg, ["background", "cell"])
    with pytest.raises(ValueError, match="family pix2seq-d streams.*earlier frames"):
        frame_warmup(cfg, model)


class WarmupEpochs(L.Callback):
    """Records, for every training epoch, whether its batches are mixed clips."""

    def __init__(self) -> None:
        self.mixed: list[bool] = []

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.mixed.append(isinstance(trainer.train_dataloader.collate_fn, MixedClips))  # type: ignore[union-attr]


def test_training_switches_from_mixed_to_real_clips(tmp_path: Path) -> None:
    task, sources, cfg = segmenter_and_sources(tmp_path, 0.5)
    cfg.train.max_steps = cfg.train.max_epochs = 4  # one batch an epoch
    seen = WarmupEpochs()
    L.seed_everything(0)
    trainer = build_trainer(cfg, tmp_path, extra_callbacks=[seen])
    trainer.fit(task, build_datamodule(cfg, task, sources))
    assert seen.mixed == [True, True, False, False]
    assert torch.isfinite(trainer.callback_metrics["train/loss"])


def test_reports_name_the_frame_warmup_of_any_clip_model(tmp_path: Path) -> None:
    task, _, _ = segmenter_and_sources(tmp_path, 0.5)
    facts = dict(task.facts())
    assert facts["frame warm-up"] == "clips of frames from different windows for the first 50% of training"
    assert set(dict(task.describe())) < set(facts), "the family describes the model; the base adds the warm-up"
    plain, _, _ = segmenter_and_sources(tmp_path, 0.0)
    assert "frame warm-up" not in dict(plain.facts())
    image_cfg = tiny_config(tmp_path)
    image_cfg.train.frame_warmup = 0.5  # build refuses it for training; a report still names nothing
    image = Pix2SeqSegmenter.create(image_cfg, ["background", "cell"])
    assert "frame warm-up" not in dict(image.facts())
