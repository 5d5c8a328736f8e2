"""The pix2seq-d family through the CLI: train, predict (class and instance masks) and evaluate (panoptic
quality in metrics.json), for images and for streaming video; and the streaming contract frame by frame."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from tests.segmenters.family_cli_helpers import (
    SMALL_CELLS,
    WIDE,
    runner,
    train_predict_evaluate_panoptic,
    write_family_config,
)

from rleseg.cli import app
from rleseg.config import load_config
from rleseg.inference.predictor import Predictor
from rleseg.segmenters.pix2seq_d import HISTORY, Pix2SeqDSegmenter, check_config

TINY = {
    "backbone": "regnetx_002",
    "levels": [1, 2],
    "dim": 32,
    "heads": 2,
    "encoder_layers": 1,
    "fuse_dim": 16,
    "decoder_dim": 16,
    "decoder_mults": [1, 2],
    "decoder_layers": 1,
    "mask_size": 16,
    "class_bits": 2,
    "instance_bits": 6,
    "steps": 3,
    "video_steps": 2,
}


def write_config(path: Path, video: bool = False, **model: object) -> Path:
    data = dict(SMALL_CELLS)
    if video:
        data.update(source="synthetic-cells-video", synthetic_frames=3, synthetic_counts=[2, 1, 1], patch_size=64)
    return write_family_config(path, "pix2seq-d", {**TINY, **model}, data)


def test_images_train_predict_and_evaluate_with_panoptic_quality(tmp_path: Path) -> None:
    config = write_config(tmp_path / "p2sd.yaml")
    train_predict_evaluate_panoptic(tmp_path, config, "pix2seq-d", ("instance_bits", 6))


def test_streaming_video_trains_on_clips_and_evaluates(tmp_path: Path) -> None:
    run = tmp_path / "run"
    cfg = write_config(tmp_path / "v.yaml", video=True, previous_frames=1)
    res = runner.invoke(app, ["train", str(cfg), f"train.out_dir={run}"], env=WIDE)
    assert res.exit_code == 0, res.output
    out = tmp_path / "eval"
    ckpt = run / "checkpoints" / "last.ckpt"
    res = runner.invoke(app, ["evaluate", str(ckpt), "synthetic-cells-video", "--out", str(out)], env=WIDE)
    assert res.exit_code == 0, res.output
    report = json.loads((out / "metrics.json").read_text())
    assert "pq" in report["panoptic"] and len(list((out / "instances").rglob("*.png"))) == 3  # 1 video, 3 frames


def test_streaming_uses_its_previous_frames_and_fewer_steps(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path / "v.yaml", video=True, previous_frames=2), ["data.patch_size=32"])
    model = Pix2SeqDSegmenter.create(cfg, ["background", "cell"]).eval()
    assert model.spec.streaming and model.spec.instance_aware and model.train_frames() == 3
    calls: list[torch.Tensor] = []  # the previous-frame channels the decoder got at each step
    k = model.layout.channels
    model.net.decoder.register_forward_pre_hook(lambda _, args: calls.append(args[0][:, k + 16 :].clone()))
    frames = np.random.default_rng(0).integers(0, 255, (3, 32, 64, 3)).astype(np.uint8)  # 2 windows a frame
    pred = Predictor(model, batch_size=8).predict_video(frames)
    assert pred.mask.shape == (3, 32, 64) and pred.instances is not None
    assert len(calls) == 3 + 2 + 2, "steps at the first frame, video_steps after"
    present = [[bool(c[:, j * k : (j + 1) * k].abs().sum() > 0) for j in range(2)] for c in calls]
    assert present == [[False, False]] * 3 + [[True, False]] * 2 + [[True, True]] * 2
    out = model.predict_windows(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
    assert out.extras[HISTORY].shape == (2, 2, 2, 16, 16) and (out.extras[HISTORY][:, 1] == -1).all()


def test_config_errors_name_the_setting() -> None:
    cfg = load_config(None, ["model.family=pix2seq-d", "model.pix2seq_d.class_bits=1"])
    with pytest.raises(ValueError, match=r"class_bits: 1 bits hold class ids up to 1, the data has 2 classes"):
        check_config(cfg.model.pix2seq_d, 2)
    for key, value, expected in [("previous_frames", 3, "0 \\(images\\), 1 or 2"), ("scale", 0, "a positive")]:
        cfg = load_config(None, ["model.family=pix2seq-d", f"model.pix2seq-d.{key}={value}"])
        with pytest.raises(ValueError, match=f"model.pix2seq-d.{key}: expected {expected}"):
            check_config(cfg.model.pix2seq_d, 2)
    both = load_config(None, ["model.pix2seq_d.steps=5", "model.pix2seq-d.td=1.5"])
    assert (both.model.section("pix2seq-d").steps, both.model.pix2seq_d.td) == (5, 1.5)
    assert both.to_dict()["model"]["pix2seq-d"]["steps"] == 5 and "pix2seq_d" not in both.to_dict()["model"]


@pytest.mark.parametrize("options", [["model.pix2seq-d.self_condition=true"], ["model.pix2seq-d.loss=sigmoid"]])
def test_self_conditioning_and_sigmoid_loss_train_and_sample(tmp_path: Path, options: list[str]) -> None:
    cfg = load_config(write_config(tmp_path / "p.yaml"), options)
    model = Pix2SeqDSegmenter.create(cfg, ["background", "cell", "other"])
    batch: dict[str, Any] = {
        "image": torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8),
        "mask": torch.randint(0, 3, (2, 16, 16)),
        "instances": torch.randint(0, 9, (2, 16, 16)),
        "names": ["a", "b"],
    }
    torch.manual_seed(0)
    for _ in range(3):  # self-conditioning runs its extra prediction on about half the steps
        loss, logs = model.loss(batch)
        loss.backward()
        assert torch.isfinite(loss) and set(logs) == {"class_acc", "instance_acc", "instance_acc_fg"}
    assert all(p.grad is not None for p in model.net.decoder.parameters())
    out = model.eval().predict_windows(batch["image"])
    assert out.masks.shape == (2, 16, 16) and out.instances is not None and int(out.masks.max()) <= 2
