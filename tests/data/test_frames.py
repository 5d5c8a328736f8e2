"""The frames of a video dataset as single images (the static model's view of a video dataset)."""

from __future__ import annotations

import numpy as np
import pytest

from rleseg.config import Config, TokenizerConfig
from rleseg.data.frames import VideoFrames, is_video_source
from rleseg.data.sample import ListSource, Sample
from rleseg.data.synthetic import SyntheticCells, SyntheticCellVideos
from rleseg.training.build import build_sources


def clip(name: str, t: int, seed: int) -> Sample:
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, 3, (t, 6, 7))
    image = rng.integers(0, 256, (t, 6, 7, 3), dtype=np.uint8)
    return Sample(image, mask, mask * 10, name)


def test_every_frame_of_every_video_in_order() -> None:
    videos = ListSource([clip("a", 3, 0), clip("b", 2, 1)], ["bg", "x", "y"])
    frames = VideoFrames(videos)
    assert len(frames) == 5
    assert [frames[i].name for i in range(5)] == ["a_f000", "a_f001", "a_f002", "b_f000", "b_f001"]
    assert np.array_equal(frames[4].image, videos[1].image[1])
    assert np.array_equal(frames[2].mask, videos[0].mask[2])
    assert frames[3].instances is not None and np.array_equal(frames[3].instances, videos[1].instances[0])
    assert not frames[0].is_video and list(frames.classes) == ["bg", "x", "y"]
    with pytest.raises(IndexError, match="5 frames"):
        frames[5]


def test_a_single_image_in_a_video_dataset_is_named() -> None:
    still = Sample(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4)), None, "still")
    mixed = ListSource([clip("a", 2, 0), still], ["bg"])
    with pytest.raises(ValueError, match="still"):
        len(VideoFrames(mixed))


def test_video_sources_are_recognised() -> None:
    assert is_video_source(SyntheticCellVideos("test", num_videos=1, num_frames=2, size=32))
    assert is_video_source(ListSource([clip("a", 2, 0)], ["bg"]))
    assert not is_video_source(SyntheticCells("test", num_images=1, size=32))


def test_an_image_tokenizer_on_a_video_dataset_sees_its_frames() -> None:
    cfg = Config(tokenizer=TokenizerConfig(name="lac", mask_size=8))
    cfg.data.source = "synthetic-cells-video"
    cfg.data.synthetic_counts = [2, 1, 1]
    cfg.data.synthetic_frames = 3
    cfg.data.synthetic_size = 32
    frames = build_sources(cfg)["test"]
    assert len(frames) == 3 and frames[0].image.shape == (32, 32, 3)
    cfg.tokenizer = TokenizerConfig(name="ltac", mask_size=8, num_frames=2)
    videos = build_sources(cfg)["test"]
    assert len(videos) == 1 and videos[0].image.shape == (3, 32, 32, 3)
    assert np.array_equal(frames[2].mask, videos[0].mask[2])  # the same frames either way
