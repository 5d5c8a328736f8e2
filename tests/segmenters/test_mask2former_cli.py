"""The mask2former family through the CLI: train, predict and evaluate (panoptic quality in metrics.json); a
semantic model's probabilities merged by averaging; ``rleseg flops`` per component, with its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import yaml
from tests.segmenters.family_cli_helpers import (
    WIDE,
    runner,
    train_predict_evaluate_panoptic,
    write_family_config,
)

from rleseg.cli import app
from rleseg.config import load_config
from rleseg.inference.predictor import Predictor
from rleseg.segmenters.mask2former import Mask2FormerSegmenter

TINY = {
    "backbone": "resnet10t",
    "dim": 32,
    "heads": 2,
    "encoder_layers": 1,
    "encoder_ffn": 64,
    "decoder_layers": 1,
    "decoder_ffn": 64,
    "queries": 6,
    "num_points": 256,
}


def write_config(path: Path, **model: object) -> Path:
    return write_family_config(path, "mask2former", {**TINY, **model})


def test_train_predict_and_evaluate_with_panoptic_quality(tmp_path: Path) -> None:
    train_predict_evaluate_panoptic(tmp_path, write_config(tmp_path / "m2f.yaml"), "mask2former", ("queries", 6))


def test_semantic_model_gives_probabilities_merged_by_averaging(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path / "s.yaml", panoptic=False))
    model = Mask2FormerSegmenter.create(cfg, ["background", "cell", "other"]).eval()
    assert not model.spec.instance_aware and model.default_merge == "average"
    out = model.predict_windows(torch.randint(0, 256, (2, 3, 40, 40), dtype=torch.uint8))  # padded to 64
    probs = out.extras["probs"]
    assert out.instances is None and out.masks.shape == (2, 40, 40) and probs.shape == (2, 3, 40, 40)
    torch.testing.assert_close(probs.sum(1), torch.ones(2, 40, 40))
    assert torch.equal(probs.argmax(1), out.masks)
    pred = Predictor(model, stride=16).predict_image(np.zeros((48, 48, 3), np.uint8))  # overlapping windows
    assert pred.mask.shape == (48, 48) and pred.instances is None


def test_flops_per_component_with_json(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "m2f.yaml")
    out = tmp_path / "flops.json"
    res = runner.invoke(app, ["flops", str(cfg), "--size", "64", "96", "--json", str(out)], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "pixel decoder" in res.output and "transformer decoder" in res.output
    report = json.loads(out.read_text())
    g = report["gflops"]
    assert report["size"] == [64, 96] and report["family"] == "mask2former"
    assert min(g["backbone"], g["pixel decoder"], g["transformer decoder"]) > 0 and g["other"] >= 0
    parts = g["backbone"] + g["pixel decoder"] + g["transformer decoder"] + g["other"]
    assert abs(parts - g["total"]) < 1e-9 and report["gmacs"]["total"] == g["total"] / 2

    more = tmp_path / "more.json"
    res = runner.invoke(
        app, ["flops", str(cfg), "model.mask2former.encoder_layers=3", "--size", "64", "96", "--json", str(more)]
    )
    assert res.exit_code == 0, res.output
    g3 = json.loads(more.read_text())["gflops"]
    assert g3["pixel decoder"] > g["pixel decoder"] and g3["backbone"] == g["backbone"]


def test_flops_errors(tmp_path: Path) -> None:
    smp = tmp_path / "smp.yaml"
    smp.write_text(yaml.safe_dump({"model": {"family": "smp"}}))
    res = runner.invoke(app, ["flops", str(smp), "--size", "64", "64"], env=WIDE)
    assert res.exit_code == 1 and "has no FLOPs breakdown" in res.output
    res = runner.invoke(app, ["flops", str(tmp_path / "missing.yaml"), "--size", "64", "64"], env=WIDE)
    assert res.exit_code == 1 and "does not exist" in res.output
