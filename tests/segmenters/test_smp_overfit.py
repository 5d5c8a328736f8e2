"""A tiny smp Unet memorises a handful of images: the Predictor, cutting them into overlapping windows and
averaging the windows' class probabilities, returns their exact masks; and a checkpoint of it loads through
``load_segmenter`` (family stored) to the same predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from tests.training.training_helpers import no_augment, squares

from rleseg.config import Config
from rleseg.data.datamodule import stack_windows
from rleseg.data.windows import WindowDataset
from rleseg.inference.predictor import Predictor
from rleseg.segmenters.base import FAMILY_KEY
from rleseg.segmenters.loading import load_segmenter
from rleseg.segmenters.smp import SmpSegmenter

P, STRIDE = 32, 16  # 64-pixel images: 3 x 3 windows overlapping by half


def tiny_unet() -> Config:
    cfg = Config()
    cfg.model.family = "smp"
    m = cfg.model.smp
    m.encoder, m.encoder_depth, m.decoder_channels = "tu-regnetx_002", 3, 32  # 61k parameters
    cfg.data.patch_size, cfg.data.eval_stride = P, STRIDE
    return cfg


def all_windows_right(model: SmpSegmenter, batch: dict[str, Any]) -> bool:
    model.eval()
    right = torch.equal(model.predict_windows(batch["image"]).masks, batch["mask"])
    model.train()
    return right


@pytest.fixture(scope="module")
def trained() -> tuple[SmpSegmenter, Any]:
    """The tiny Unet trained on every prediction window of 4 squares images until all are right."""
    torch.manual_seed(0)
    source = squares(4, size=64)
    windows = WindowDataset(source, no_augment(patch_size=P, train_stride=STRIDE), train=True)
    batch = stack_windows([windows[i] for i in range(len(windows))])  # 36 windows
    assert batch["mask"].shape == (36, P, P)
    model = SmpSegmenter.create(tiny_unet(), list(source.classes))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(300):
        loss, _ = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 5 == 4 and all_windows_right(model, batch):
            break
    assert all_windows_right(model, batch), f"not memorised after {step + 1} steps (loss {loss.item():.4f})"
    return model.eval(), source


def test_overlapping_windows_merged_by_average_give_the_exact_masks(trained: tuple[SmpSegmenter, Any]) -> None:
    model, source = trained
    predictor = Predictor(model)
    assert predictor.merge == "average" and predictor.cfg.data.eval_stride == STRIDE < P
    for sample in source.samples:
        pred = predictor.predict_image(sample.image)
        assert pred.instances is None and pred.token_lengths.size == 0
        np.testing.assert_array_equal(pred.mask, sample.mask, err_msg=sample.name)


def test_checkpoint_round_trip_through_load_segmenter(trained: tuple[SmpSegmenter, Any], tmp_path: Path) -> None:
    model, source = trained
    checkpoint: dict[str, Any] = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}
    model.on_save_checkpoint(checkpoint)  # what Lightning calls while saving
    assert checkpoint[FAMILY_KEY] == "smp" and set(checkpoint["hyper_parameters"]) == {"config", "class_names"}
    path = tmp_path / "smp.ckpt"
    torch.save(checkpoint, path)
    loaded = load_segmenter(path)
    assert isinstance(loaded, SmpSegmenter) and loaded.class_names == list(source.classes)
    assert loaded.describe() == model.describe()
    images = torch.from_numpy(np.stack([s.image for s in source.samples])).movedim(-1, 1)[..., :P, :P].contiguous()
    a, b = model.predict_windows(images), loaded.eval().predict_windows(images)
    assert torch.equal(a.masks, b.masks) and torch.allclose(a.extras["probs"], b.extras["probs"])
    image = source.samples[1].image
    np.testing.assert_array_equal(
        Predictor(loaded).predict_image(image).mask, Predictor(model).predict_image(image).mask
    )
