"""``rleseg demo --video``: a tiny video model and the static model on the same frames, end to end."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from tests.cli_helpers import TINY_RUN
from typer.testing import CliRunner

from rleseg.cli import app
from rleseg.commands.demo_run import prediction_batch
from rleseg.config import Config

runner = CliRunner()
WIDE = {"COLUMNS": "250"}
TINY_VIDEO = [
    *TINY_RUN,
    "data.synthetic_frames=3",
    "data.synthetic_counts=[2,1,1]",
    "tokenizer.max_len=128",
    "train.val_every_n_epochs=1",
]


def test_video_demo_compares_with_the_static_model_on_the_same_frames(tmp_path: Path) -> None:
    out = tmp_path / "demo-video"
    res = runner.invoke(app, ["demo", "--video", "--compare-static", "--out", str(out), *TINY_VIDEO], env=WIDE)
    assert res.exit_code == 0, res.output
    video = json.loads((out / "metrics.json").read_text())
    static = json.loads((out / "static" / "metrics.json").read_text())
    assert video["classes"] == static["classes"] == ["ipsc", "dfc"]
    assert video["num_images"] == static["num_images"] == 3, "every frame of the one test video, once"
    assert json.loads((out / "comparison.json").read_text())["static"] == static
    assert "Dice (%) on the same test frames" in res.output and "class-agnostic" in res.output
    assert "One run of each model" in res.output and "train.seed=1, 2" in res.output, "how far to trust one run"
    run_cfg = (out / "run" / "config.yaml").read_text()
    static_cfg = (out / "static" / "run" / "config.yaml").read_text()
    assert "name: 3d-c" in run_cfg and "classes: lac" in run_cfg and "frame_fusion: per-frame" in run_cfg
    assert "name: lac" in static_cfg and "classes: token" in static_cfg, "LAC takes no class option"
    assert "frame_warmup: 0.0" in static_cfg, "an image model mixes no clips"
    assert "frame_attention_bias: -4.0" in run_cfg and "frame_attention_bias: null" in static_cfg, "one frame"
    assert "frame_attention_bias_lr: 0.02" in run_cfg and "frame_attention_bias_lr: null" in static_cfg
    assert "frame_neighbours: 3" in run_cfg and "frame_neighbours: 0" in static_cfg, "no other frame to read"
    assert "checkpoint: final" in run_cfg and "checkpoint: final" in static_cfg, "both hand on their final weights"
    assert sorted(p.name for p in (out / "run" / "checkpoints").iterdir()) == ["last.ckpt"]
    assert sorted(p.name for p in (out / "static" / "run" / "checkpoints").iterdir()) == ["last.ckpt"]
    frames = sorted((out / "masks" / "video_000").glob("*.png"))
    assert [p.name for p in frames] == ["000000.png", "000001.png", "000002.png"]
    assert Image.open(frames[0]).size == (64, 64)
    with Image.open(out / "overlays" / "video_000.gif") as gif:
        assert gif.n_frames == 3 and gif.size[0] > 3 * 64
    static_masks = sorted(p.name for p in (out / "static" / "masks").glob("*.png"))
    assert static_masks == ["video_000_f000.png", "video_000_f001.png", "video_000_f002.png"], "the same frames"
    for folder in (out, out / "static"):
        html = (folder / "report.html").read_text()
        assert 'id="metrics-table"' in html and 'id="gallery"' in html


def test_train_warns_when_the_frame_biases_learn_at_train_lr(tmp_path: Path) -> None:
    config = Path(__file__).parents[2] / "configs" / "demo-video.yaml"
    overrides = [*TINY_VIDEO, "model.pix2seq.frame_attention_bias_lr=null", f"train.out_dir={tmp_path / 'run'}"]
    res = runner.invoke(app, ["train", str(config), *overrides], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "warning: model.pix2seq.frame_attention_bias=-4.0 without frame_attention_bias_lr" in res.output
    assert "configs/demo-video.yaml: 0.02" in res.output


def test_video_demo_refuses_an_image_tokenizer(tmp_path: Path) -> None:
    res = runner.invoke(app, ["demo", "--video", "--out", str(tmp_path), "tokenizer.name=lac"], env=WIDE)
    assert res.exit_code == 1 and "needs a video tokenizer" in res.output


def test_compare_static_needs_video(tmp_path: Path) -> None:
    res = runner.invoke(app, ["demo", "--compare-static", "--out", str(tmp_path)], env=WIDE)
    assert res.exit_code != 0 and "--video" in res.output


def test_demo_prediction_batch_counts_windows_with_all_their_views() -> None:
    cfg = Config()
    assert prediction_batch(cfg) is None, "unset: the predictor's own default"
    cfg.data.eval_batch_size, cfg.data.eval_views = 4, 8
    assert prediction_batch(cfg) == 32, "4 windows a pass, each in 8 views"
    cfg.data.eval_views = 1
    assert prediction_batch(cfg) == 4
