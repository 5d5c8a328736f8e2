"""The train -> predict -> evaluate run through the CLI that every instance-aware family's CLI test makes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from PIL import Image
from typer.testing import CliRunner

from rleseg.cli import app
from rleseg.segmenters.registry import segmenter_class

runner = CliRunner()
WIDE = {"COLUMNS": "250"}
SMALL_CELLS = {"source": "synthetic-cells", "synthetic_size": 64, "patch_size": 32, "synthetic_counts": [3, 1, 2]}


def write_family_config(path: Path, family: str, model: dict[str, Any], data: dict[str, Any] | None = None) -> Path:
    """A YAML config of ``family`` with the ``model`` options, one epoch on ``data`` (default: small cells)."""
    tree = {
        "model": {"family": family, family: model},
        "data": data or dict(SMALL_CELLS),
        "train": {"max_epochs": 1, "progress": False, "log_every_n_steps": 1},
    }
    path.write_text(yaml.safe_dump(tree))
    return path


def train_predict_evaluate_panoptic(tmp_path: Path, config: Path, family: str, option: tuple[str, object]) -> None:
    """Train ``config`` through the CLI (its checkpoint names ``family`` and its saved config keeps ``option``),
    predict an image of odd size, and evaluate on the synthetic cells with panoptic quality and instances."""
    run = tmp_path / "run"
    res = runner.invoke(app, ["train", str(config), f"train.out_dir={run}"], env=WIDE)
    assert res.exit_code == 0, res.output
    ckpt = run / "checkpoints" / "last.ckpt"
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert saved["rleseg_family"] == family and "val/dice" in res.output
    monitor, mode = segmenter_class(family).checkpoint_monitor  # best.ckpt picked by the family's own metric
    monitored = [k for k in saved["callbacks"] if k.startswith("ModelCheckpoint") and "'monitor': None" not in k]
    assert len(monitored) == 1 and f"'monitor': '{monitor}', 'mode': '{mode}'" in monitored[0], monitored
    assert (run / "checkpoints" / "best.ckpt").is_file()
    key, value = option
    assert yaml.safe_load((run / "config.yaml").read_text())["model"][family][key] == value

    image = np.random.default_rng(0).integers(0, 255, (50, 70, 3)).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "a.png")
    res = runner.invoke(app, ["predict", str(ckpt), str(tmp_path / "a.png"), "--out", str(tmp_path / "pred")], env=WIDE)
    assert res.exit_code == 0, res.output
    assert np.asarray(Image.open(tmp_path / "pred" / "masks" / "a.png")).shape == (50, 70)

    out = tmp_path / "eval"
    res = runner.invoke(app, ["evaluate", str(ckpt), "synthetic-cells", "--out", str(out)], env=WIDE)
    assert res.exit_code == 0, res.output
    report = json.loads((out / "metrics.json").read_text())
    assert {"pq", "sq", "rq"} <= set(report["panoptic"]) and 0 <= report["panoptic"]["pq"] <= 1
    assert len(list((out / "instances").glob("*.png"))) == 2
