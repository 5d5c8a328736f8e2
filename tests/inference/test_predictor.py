"""Whole-image and whole-video prediction by construction: with windows predicted exactly, the stitched
full-size prediction equals the ground truth for every merge rule and stride, at sizes that are not
multiples of the window size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rleseg.config import Config, ModelConfig, TokenizerConfig
from rleseg.data.sample import Sample
from rleseg.inference.predictor import ImageForClipModelError, Predictor
from rleseg.inference.stitch import MERGE_RULES
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.segmenters.spec import WindowPrediction
from rleseg.tokenizers import create_tokenizer
from rleseg.tokenizers.resolution import subsample

TINY = ModelConfig(backbone="resnet10t", dim=32, heads=2, encoder_layers=1, decoder_layers=1, dropout=0.0)


def oracle_predictor(scheme: str, **tok_kw: int) -> Predictor:
    """A predictor whose windows are 'predicted' exactly from the image's red channel (= label * 100)."""
    tok = create_tokenizer(scheme, mask_size=8, num_classes=2, **tok_kw)
    cfg = Config(tokenizer=TokenizerConfig(name=scheme, mask_size=8), model=TINY)
    cfg.data.patch_size = 16
    predictor = Predictor(Pix2SeqSegmenter.from_tokenizer(cfg, tok, ["background", "a", "b"]), batch_size=3)

    def exact(images: torch.Tensor, previous: WindowPrediction | None = None) -> WindowPrediction:
        red = images[..., 0, :, :].numpy().astype(np.int64) // 100  # (B, [N,] P, P)
        masks = torch.from_numpy(subsample(red, 2))
        return WindowPrediction(masks, None, {"lengths": torch.ones(len(images), dtype=torch.int64)})

    predictor.predict_windows = exact  # type: ignore[method-assign]
    return predictor


def painted(shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels constant on 2 x 2 blocks (what S = P / 2 can hold) and an image whose red channel shows them."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 3, size=(*shape[:-2], shape[-2] // 2, shape[-1] // 2))
    labels = np.repeat(np.repeat(coarse, 2, -2), 2, -1)
    image = np.stack([labels * 100, np.zeros_like(labels), np.zeros_like(labels)], -1).astype(np.uint8)
    return labels, image


@pytest.mark.parametrize("rule", MERGE_RULES)
@pytest.mark.parametrize("stride", [8, 16])
def test_image_prediction_is_exact_with_exact_windows(rule: str, stride: int) -> None:
    predictor = oracle_predictor("lac")
    predictor.merge, predictor.stride = rule, stride
    labels, image = painted((38, 54), seed=0)
    assert np.array_equal(predictor.predict_image(image).mask, labels)


@pytest.mark.parametrize("rule", ["vote", "latest"])
@pytest.mark.parametrize("frame_stride", [1, 2])
def test_video_prediction_is_exact_with_exact_clips(rule: str, frame_stride: int) -> None:
    predictor = oracle_predictor("tac", num_frames=2)
    predictor.merge, predictor.stride = rule, 8
    labels, frames = painted((5, 22, 34), seed=1)
    out = predictor.predict_video(frames, frame_stride=frame_stride)
    assert out.mask.shape == (5, 22, 34)
    assert np.array_equal(out.mask, labels)


def test_image_models_predict_videos_frame_by_frame() -> None:
    predictor = oracle_predictor("lac")
    labels, frames = painted((3, 22, 34), seed=3)
    out = predictor.predict_video(frames)
    assert np.array_equal(out.mask, labels) and out.token_lengths.shape == (3 * 6,)


def test_prediction_reports_one_sequence_length_per_window() -> None:
    tok = create_tokenizer("lac", mask_size=8, num_classes=2, max_len=20)
    cfg = Config(tokenizer=TokenizerConfig(name="lac", mask_size=8, max_len=20), model=TINY)
    cfg.data.patch_size = 16
    predictor = Predictor(Pix2SeqSegmenter.from_tokenizer(cfg, tok, ["background", "a", "b"]), batch_size=4, stride=8)
    out = predictor.predict_image(np.zeros((24, 40, 3), np.uint8))  # 2 x 4 windows at stride 8
    assert out.token_lengths.shape == (8,)
    assert ((out.token_lengths >= 1) & (out.token_lengths <= 20)).all()
    again = predictor.predict_image(np.zeros((16, 16, 3), np.uint8))
    assert again.token_lengths.shape == (1,)  # lengths of the earlier image are not carried over


def test_cleanup_closes_gaps_in_the_full_size_mask() -> None:
    predictor = oracle_predictor("lac")
    labels = np.zeros((32, 48), np.int64)
    labels[4:20, 6:40] = 1
    labels[4:20, 20:22] = 0  # a 2-pixel gap in every row of the rectangle (what dropped runs leave)
    image = np.stack([labels * 100, np.zeros_like(labels), np.zeros_like(labels)], -1).astype(np.uint8)
    assert np.array_equal(predictor.predict_image(image).mask, labels), "no clean-up by default"
    predictor.cleanup = 2
    cleaned = predictor.predict_image(image).mask
    assert (cleaned[4:20, 6:40] == 1).all() and int(cleaned.sum()) == 16 * 34
    predictor.segmenter.cfg.generation.cleanup = 2  # the config's value is the default of a new predictor
    assert Predictor(predictor.segmenter).cleanup == 2
    with pytest.raises(ValueError, match="cleanup must be a gap size"):
        Predictor(predictor.segmenter, cleanup=-1)


def test_samples_go_to_the_image_or_the_video_path_and_clip_models_refuse_images() -> None:
    clip_model, image_model = oracle_predictor("tac", num_frames=2), oracle_predictor("lac")
    labels, frames = painted((4, 22, 34), seed=4)
    video = Sample(frames, labels.astype(np.uint8), None, "v")
    assert np.array_equal(clip_model.predict_sample(video, frame_stride=1).mask, labels)
    assert np.array_equal(image_model.predict_sample(video).mask, labels)
    image = Sample(frames[0], labels[0].astype(np.uint8), None, "one")
    assert np.array_equal(image_model.predict_sample(image).mask, labels[0])
    with pytest.raises(ImageForClipModelError, match="one: the model takes video clips of 2 frames"):
        clip_model.predict_sample(image)


def test_frame_stride_longer_than_the_clip_is_an_error() -> None:
    with pytest.raises(ValueError, match="frame stride 3 is larger than the clip length N=2"):
        oracle_predictor("tac", num_frames=2).predict_video(np.zeros((5, 16, 16, 3), np.uint8), frame_stride=3)


def test_instance_aware_video_prediction_gives_instances_per_frame() -> None:
    predictor = oracle_predictor("iw", num_frames=2)
    exact = predictor.predict_windows

    def with_instances(images: torch.Tensor, previous: WindowPrediction | None = None) -> WindowPrediction:
        out = exact(images)
        return WindowPrediction(out.masks, out.masks, out.extras)  # every window: instance id = class id

    predictor.predict_windows = with_instances  # type: ignore[method-assign]
    predictor.stride = 8
    labels, frames = painted((3, 22, 34), seed=2)
    out = predictor.predict_video(frames, frame_stride=1)
    assert out.instances is not None and out.instances.shape == (3, 22, 34)
    assert np.array_equal(out.instances > 0, labels > 0)
    # windows that agree where they overlap are stitched into the same instances (matched, not offset apart)
    pairs = {(int(a), int(b)) for a, b in zip(labels.ravel(), out.instances.ravel(), strict=True)}
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs}), "one id per window label"
