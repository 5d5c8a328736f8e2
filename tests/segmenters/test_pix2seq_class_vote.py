"""The token family counts its training pixels per class and weighs fg-vote's class votes by them: the counts
grow in training steps only, travel in the checkpoint (an older checkpoint without them votes plainly), and
the predictor merges with them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.inference.test_predictor import TINY

from rleseg.config import Config, TokenizerConfig
from rleseg.inference.predictor import Predictor
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.segmenters.token_batch import collate_tokens
from rleseg.tokenizers import create_tokenizer


def tiny(class_vote: str = "sqrt-inverse") -> Pix2SeqSegmenter:
    """A LAC model at S = 8 for 16-pixel windows, classes a and b."""
    tok = create_tokenizer("lac", mask_size=8, num_classes=2)
    cfg = Config(tokenizer=TokenizerConfig(name="lac", mask_size=8), model=TINY)
    cfg.data.patch_size = 16
    cfg.generation.class_vote = class_vote
    return Pix2SeqSegmenter.from_tokenizer(cfg, tok, ["background", "a", "b"])


def batch_of(mask: np.ndarray) -> dict:
    """A batch of two windows with labels ``mask`` ``(8, 8)`` (batch norm needs two in training)."""
    item = {
        "image": torch.zeros(3, 16, 16, dtype=torch.uint8),
        "mask": torch.from_numpy(mask),
        "instances": torch.zeros(8, 8, dtype=torch.int64),
        "mask_full": torch.zeros(16, 16, dtype=torch.int64),
        "name": "w",
    }
    model = tiny()
    return collate_tokens([item, item], model.tok)


def test_training_steps_count_class_pixels_and_the_weights_follow_them() -> None:
    model = tiny()
    assert model.vote_weights() is None, "before training every vote counts alike"
    mask = np.zeros((8, 8), np.int64)
    mask[:4] = 1  # 32 pixels of a
    mask[7, :2] = 2  # 2 pixels of b
    model.train()
    model.loss(batch_of(mask))
    model.loss(batch_of(mask))
    assert model.class_pixels.tolist() == [120, 128, 8]
    model.eval()
    model.loss(batch_of(mask))
    assert model.class_pixels.tolist() == [120, 128, 8], "validation batches are not counted"
    weights = model.vote_weights()
    assert weights is not None and weights[2] / weights[1] == pytest.approx(4.0), "1 / sqrt(frequency)"
    assert tiny("plain").vote_weights() is None
    with pytest.raises(ValueError, match="generation.class_vote: expected one of sqrt-inverse, plain, got 'rare'"):
        tiny("rare")


def test_counts_travel_in_checkpoints_and_older_checkpoints_still_load() -> None:
    model = tiny()
    model.class_pixels += torch.tensor([10, 90, 10])
    checkpoint = {"hyper_parameters": dict(model.hparams), "state_dict": model.state_dict()}
    loaded = Pix2SeqSegmenter.from_checkpoint(checkpoint)
    assert loaded.class_pixels.tolist() == [10, 90, 10]
    assert Predictor(loaded).class_weights == pytest.approx(tuple(loaded.vote_weights()))
    older = {k: v for k, v in checkpoint["state_dict"].items() if k != "class_pixels"}
    old = Pix2SeqSegmenter.from_checkpoint({"hyper_parameters": checkpoint["hyper_parameters"], "state_dict": older})
    assert old.class_pixels.tolist() == [0, 0, 0] and Predictor(old).class_weights is None
    resumed = {"state_dict": dict(older)}
    tiny().on_load_checkpoint(resumed)  # what Lightning calls before loading the state when training resumes
    assert resumed["state_dict"]["class_pixels"].tolist() == [0, 0, 0]


def test_a_rare_class_seen_in_one_of_four_views_wins_with_its_weight() -> None:
    model = tiny()
    image = np.zeros((16, 16, 3), np.uint8)
    image[0, 0] = 255  # one bright corner: in exactly one of the 4 flip views it is at the window's top left

    def corner(images: torch.Tensor, previous: object = None):  # b where the corner is top left, else a
        from rleseg.segmenters.spec import WindowPrediction

        labels = 1 + (images[:, 0, 0, 0] == 255).long()  # (B,)
        return WindowPrediction(labels.view(-1, 1, 1).expand(-1, 8, 8).clone(), None, {})

    model.predict_windows = corner  # type: ignore[method-assign]
    assert (Predictor(model, views=4).predict_image(image).mask == 1).all(), "no counts: 3 votes beat 1"
    model.class_pixels += torch.tensor([0, 160, 10])  # b is 16 times rarer: weight 4 x a's
    assert (Predictor(model, views=4).predict_image(image).mask == 2).all()
    assert (Predictor(model, views=1).predict_image(image).mask == 2).all(), "the window as it is sees b"
