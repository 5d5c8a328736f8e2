"""``rleseg evaluate CKPT DATA`` with a video checkpoint: clips of N frames every --frame-stride frames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from tests.commands.test_cli_predict_video import save_checkpoint
from typer.testing import CliRunner

from rleseg.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("videos") / "cells"
    args = ["--out", str(data), "--kind", "cells-video", "--size", "64", "--counts", "1,1,1", "--frames", "3"]
    res = runner.invoke(app, ["data", "synth", *args], env=WIDE)
    assert res.exit_code == 0, res.output
    return data


def test_video_checkpoint_is_evaluated_clip_by_clip(videos: Path, tmp_path: Path) -> None:
    ckpt = save_checkpoint(tmp_path / "video.ckpt", "tac", num_frames=2)
    out = tmp_path / "eval"
    args = ["evaluate", str(ckpt), str(videos), "--out", str(out), "--frame-stride", "1", "--overlays"]
    res = runner.invoke(app, args, env=WIDE)
    assert res.exit_code == 0, res.output
    report = json.loads((out / "metrics.json").read_text())
    assert report["num_images"] == 3, "every frame of the one test video"
    # 3 frames, clips of 2 every frame: clips at 0 and 1, one 64-pixel window each
    assert report["sequence_lengths"]["generated"]["windows"] == 2
    (video,) = (out / "masks").iterdir()
    assert sorted(p.name for p in video.iterdir()) == ["000000.png", "000001.png", "000002.png"]
    with Image.open(out / "overlays" / f"{video.name}.gif") as gif:
        assert gif.n_frames == 3
    assert "N=2 frames every T=1 frames" in (out / "report.html").read_text()


def test_a_frame_stride_longer_than_the_clip_is_refused(videos: Path, tmp_path: Path) -> None:
    ckpt = save_checkpoint(tmp_path / "video.ckpt", "tac", num_frames=2)
    args = ["evaluate", str(ckpt), str(videos), "--out", str(tmp_path / "eval"), "--frame-stride", "3"]
    res = runner.invoke(app, args, env=WIDE)
    assert res.exit_code == 1 and "stride in 1..2" in res.output
    assert not (tmp_path / "eval" / "metrics.json").exists()


def test_a_clip_model_on_single_images_stops_with_what_is_wrong(tmp_path: Path) -> None:
    images = tmp_path / "images"
    args = ["--out", str(images), "--kind", "cells", "--size", "48", "--counts", "1,1,1"]
    assert runner.invoke(app, ["data", "synth", *args], env=WIDE).exit_code == 0
    ckpt = save_checkpoint(tmp_path / "video.ckpt", "tac", num_frames=2)
    res = runner.invoke(app, ["evaluate", str(ckpt), str(images), "--out", str(tmp_path / "eval")], env=WIDE)
    assert res.exit_code == 1 and "the model takes video clips of 2 frames, but the data holds single" in res.output
    assert not (tmp_path / "eval" / "metrics.json").exists()
