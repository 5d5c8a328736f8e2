"""``rleseg train configs/cpu-unet.yaml`` with tiny sizes, then ``rleseg evaluate CKPT synthetic-cells``: the
smp family goes through the same CLI path as the token models and writes the same metrics layout."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from rleseg.cli import app
from rleseg.metrics import REPORT_KEYS
from rleseg.segmenters.base import FAMILY_KEY

runner = CliRunner()
WIDE = {"COLUMNS": "250"}
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "cpu-unet.yaml"
TINY_SMP = [
    "data.source=synthetic-cells",
    "data.synthetic_size=64",
    "data.synthetic_counts=[2,1,2]",
    "data.patch_size=40",  # not a multiple of the encoder's stride 8: padded and cropped
    "data.eval_stride=24",  # overlapping windows at evaluation, merged by averaging probabilities
    "data.batch_size=4",
    "model.smp.encoder=tu-resnet10t",
    "model.smp.encoder_depth=3",
    "model.smp.decoder_channels=16",
    "train.max_epochs=1",
    "train.max_time_minutes=null",
    "train.val_every_n_epochs=5",  # no validation: only last.ckpt is needed
    "train.progress=false",
    "train.log_every_n_steps=1",
]


def test_train_then_evaluate_writes_the_metrics_layout_of_every_family(tmp_path: Path) -> None:
    import torch

    run = tmp_path / "run"
    res = runner.invoke(app, ["train", str(CONFIG), *TINY_SMP, f"train.out_dir={run}"], env=WIDE)
    assert res.exit_code == 0, res.output
    ckpt = run / "checkpoints" / "last.ckpt"
    stored = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert stored[FAMILY_KEY] == "smp" and stored["hyper_parameters"]["config"]["model"]["family"] == "smp"

    out = tmp_path / "eval"
    res = runner.invoke(app, ["evaluate", str(ckpt), "synthetic-cells", "--out", str(out)], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "smp unet, encoder tu-resnet10t (from scratch)" in res.output
    report = json.loads((out / "metrics.json").read_text())
    assert set(report) == {*REPORT_KEYS, "source"}, "the pix2seq layout, without token lengths"
    assert report["classes"] == ["ipsc", "dfc"] and report["num_images"] == 2
    assert set(report["per_class"]) == {"ipsc", "dfc"}
    assert all(set(v) == set(report["mean"]) for v in report["per_class"].values())
    assert report["source"]["checkpoint"] == str(ckpt) and report["source"]["data"] == "synthetic-cells"
    for name in ("image_000", "image_001"):
        assert Image.open(out / "masks" / f"{name}.png").size == (64, 64)
    assert 'id="metrics-table"' in (out / "report.html").read_text(encoding="utf-8")
