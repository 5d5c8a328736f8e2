"""The contract is the only seam: a family registered only here trains, predicts and is evaluated through the
CLI with no change anywhere else; a streaming family gets its previous prediction frame by frame."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from PIL import Image
from torch import nn
from typer.testing import CliRunner

from rleseg.cli import app
from rleseg.config import Config
from rleseg.inference.predictor import Predictor
from rleseg.segmenters import OutputSpec, WindowPrediction, register_family, unregister_family
from rleseg.segmenters.base import Segmenter

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


@dataclass
class PixelConfig:
    """The ``model.pixel`` section of the test family."""

    hidden: int = 8
    streaming: bool = False


class PixelSegmenter(Segmenter):
    """A per-pixel two-layer classifier of RGB values, at half the window's resolution."""

    def __init__(self, config: dict[str, Any], class_names: list[str]) -> None:
        super().__init__(config, class_names)
        self.save_hyperparameters()
        section = self.cfg.model.section("pixel")
        self.net = nn.Sequential(
            nn.Conv2d(3, section.hidden, 1), nn.ReLU(), nn.Conv2d(section.hidden, len(class_names), 1)
        )
        self.calls: list[bool] = []  # whether each predict_windows call got a previous prediction

    @classmethod
    def create(cls, cfg: Config, class_names: list[str]) -> PixelSegmenter:
        return cls(cfg.to_dict(), class_names)

    @property
    def spec(self) -> OutputSpec:
        p = self.cfg.data.patch_size or 64
        streaming = self.cfg.model.section("pixel").streaming
        return OutputSpec((p // 2, p // 2), None, tuple(self.class_names), streaming=streaming)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        x = F.avg_pool2d(images.float() / 255.0, 2)  # (B, 3, P/2, P/2)
        return self.net(x)

    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        logits = self.logits(batch["image"])
        loss = F.cross_entropy(logits, batch["mask"])
        return loss, {"pixel_acc": (logits.argmax(1) == batch["mask"]).float().mean()}

    def predict_windows(self, images: torch.Tensor, previous: WindowPrediction | None = None) -> WindowPrediction:
        self.calls.append(previous is not None)
        masks = self.logits(images).argmax(1)
        if previous is not None:  # a "tracker": keeps every pixel it labelled in the previous frame
            masks = torch.where(previous.masks > 0, previous.masks, masks)
        return WindowPrediction(masks)


@pytest.fixture
def pixel_family() -> Iterator[None]:
    register_family("pixel", PixelSegmenter, PixelConfig)
    yield
    unregister_family("pixel")


def write_config(path: Path, **pixel: object) -> Path:
    tree = {
        "model": {"family": "pixel", "pixel": {"hidden": 8, **pixel}},
        "data": {"source": "synthetic-cells", "synthetic_size": 64, "patch_size": 32, "synthetic_counts": [4, 2, 2]},
        "train": {"max_epochs": 2, "lr": 0.01, "progress": False, "log_every_n_steps": 1},
    }
    path.write_text(yaml.safe_dump(tree))
    return path


def test_a_family_registered_in_a_test_trains_predicts_and_evaluates_through_the_cli(
    pixel_family: None, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "pixel.yaml")
    run = tmp_path / "run"
    res = runner.invoke(app, ["train", str(cfg), f"train.out_dir={run}"], env=WIDE)
    assert res.exit_code == 0, res.output
    ckpt = run / "checkpoints" / "last.ckpt"
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert saved["rleseg_family"] == "pixel" and "val/dice" in res.output
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["pixel"] == {"hidden": 8, "streaming": False}

    image = (np.random.default_rng(0).integers(0, 255, (50, 70, 3))).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "a.png")
    res = runner.invoke(app, ["predict", str(ckpt), str(tmp_path / "a.png"), "--out", str(tmp_path / "pred")], env=WIDE)
    assert res.exit_code == 0, res.output
    mask = np.asarray(Image.open(tmp_path / "pred" / "masks" / "a.png"))
    assert mask.shape == (50, 70) and mask.max() <= 2

    out = tmp_path / "eval"
    res = runner.invoke(app, ["evaluate", str(ckpt), "synthetic-cells", "--out", str(out)], env=WIDE)
    assert res.exit_code == 0, res.output
    report = json.loads((out / "metrics.json").read_text())
    assert {"classes", "per_class", "mean", "class_agnostic", "pix_acc", "fw_iu", "miou", "num_images"} <= set(report)
    assert set(report["per_class"]) == {"ipsc", "dfc"}
    assert "sequence_lengths" not in report, "a family that writes no tokens has no length statistics"
    assert (out / "report.html").is_file() and len(list((out / "masks").glob("*.png"))) == 2


def bright_is_class_2(model: PixelSegmenter) -> None:
    """Set ``model``'s weights by hand: class 2 where a pixel is bright, background where it is dark."""
    with torch.no_grad():
        for layer in (model.net[0], model.net[2]):
            layer.weight.zero_()
            layer.bias.zero_()
        model.net[0].weight[0] = 1.0 / 3
        model.net[2].weight[2, 0] = 10.0
        model.net[2].bias[2] = -5.0


def test_streaming_family_gets_its_previous_prediction_frame_by_frame(pixel_family: None, tmp_path: Path) -> None:
    from rleseg.config import load_config

    cfg = load_config(write_config(tmp_path / "pixel.yaml", streaming=True), ["data.patch_size=16"])
    model = PixelSegmenter.create(cfg, ["background", "a", "b"])
    bright_is_class_2(model)
    frames = np.zeros((4, 32, 48, 3), np.uint8)
    frames[0] = 255  # only the first frame is bright
    predictor = Predictor(model, batch_size=64)  # one batch per frame (6 windows of 16)
    assert predictor.spec.streaming and not predictor.is_video
    out = predictor.predict_video(frames)
    assert model.calls == [False, True, True, True], "no previous prediction at the first frame only"
    assert (out.mask == 2).all(), "the first frame's prediction is carried through the dark frames"
    model.cfg.model.section("pixel").streaming = False
    model.calls.clear()
    independent = Predictor(model, batch_size=64).predict_video(frames)
    assert model.calls == [False], "frames of a non-streaming model share batches (4 x 6 windows in one)"
    assert (independent.mask[0] == 2).all() and (independent.mask[1:] == 0).all()


class InstancePixelSegmenter(PixelSegmenter):
    """The pixel family made instance-aware: every window calls all its foreground instance 1 (so two windows
    reuse one id for different cells) and, streaming, keeps the ids of its previous prediction."""

    @property
    def spec(self) -> OutputSpec:
        return replace(super().spec, instance_aware=True)

    def predict_windows(self, images: torch.Tensor, previous: WindowPrediction | None = None) -> WindowPrediction:
        masks = super().predict_windows(images, previous).masks
        ids = (masks > 0).long()
        if previous is not None and previous.instances is not None:
            ids = torch.where(previous.instances > 0, previous.instances, ids)
        return WindowPrediction(masks, ids)


def test_streaming_tracks_stay_apart_when_windows_reuse_an_id(pixel_family: None, tmp_path: Path) -> None:
    from rleseg.config import load_config

    cfg = load_config(write_config(tmp_path / "pixel.yaml", streaming=True), ["data.patch_size=16"])
    model = InstancePixelSegmenter.create(cfg, ["background", "a", "b"])
    bright_is_class_2(model)
    frames = np.zeros((3, 16, 32, 3), np.uint8)
    frames[:, 4:12, 4:12] = 255  # one cell in each of the two windows
    frames[:, 4:12, 20:28] = 255
    out = Predictor(model, batch_size=64).predict_video(frames)
    assert out.instances is not None and model.calls == [False, True, True]
    left, right = out.instances[:, 8, 8].tolist(), out.instances[:, 8, 24].tolist()
    assert left[0] > 0 and right[0] > 0 and left[0] != right[0], "two cells, two tracks"
    assert left == [left[0]] * 3 and right == [right[0]] * 3, "each track keeps its id"
