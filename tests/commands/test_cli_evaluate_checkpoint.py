"""``rleseg evaluate CKPT DATA --out DIR`` with a tiny trained checkpoint: the held-out synthetic split, a
folder dataset with a broken file (reported, the rest scored), a video folder with an image checkpoint
(frame by frame), existing outputs, usage errors; and the training curves embedded when a run has logs."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.cli_helpers import TINY_RUN
from typer.testing import CliRunner

from rleseg.cli import app
from rleseg.commands.evaluate_report import CURVES_MODULE, training_curves
from rleseg.metrics import REPORT_KEYS

runner = CliRunner()
WIDE = {"COLUMNS": "250"}
TINY = [
    *TINY_RUN,
    "data.synthetic_frames=3",
    "tokenizer.max_len=64",
    "train.val_every_n_epochs=5",  # no validation: only last.ckpt is needed
    "data.synthetic_counts=[2,1,2]",
]
DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("train") / "run"
    res = runner.invoke(app, ["train", str(DEMO), *TINY, f"train.out_dir={out}"], env=WIDE)
    assert res.exit_code == 0, res.output
    return out / "checkpoints" / "last.ckpt"


def evaluate(*args: str | Path) -> tuple[int, str]:
    res = runner.invoke(app, ["evaluate", *map(str, args)], env=WIDE)
    return res.exit_code, res.output


def test_held_out_synthetic_split_gives_metrics_masks_lengths_and_report(ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    code, output = evaluate(ckpt, "synthetic-cells", "--out", out)
    assert code == 0, output
    report = json.loads((out / "metrics.json").read_text())
    assert set(REPORT_KEYS) <= set(report) and report["classes"] == ["ipsc", "dfc"]
    assert report["num_images"] == 2, "the two held-out test images"
    lengths = report["sequence_lengths"]
    assert lengths["budget"] == 64 and lengths["generated"]["windows"] == lengths["ground_truth"]["windows"] == 2
    assert 1 <= lengths["generated"]["max"] <= 64 and lengths["ground_truth"]["mean"] > 1
    assert report["source"]["checkpoint"] == str(ckpt) and report["source"]["data"] == "synthetic-cells"
    for name in ("image_000", "image_001"):
        assert Image.open(out / "masks" / f"{name}.png").size == (64, 64)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="metrics-table"' in page and page.count('<figure class="case"') == 2 and 'id="lengths"' in page
    assert "Tokens per window" in output and "report.html" in output and "class-agnostic" in output
    assert not list(out.rglob(".*.tmp*"))

    code, output = evaluate(ckpt, "synthetic-cells", "--out", out)
    assert code == 1 and f"{out / 'metrics.json'} already exists" in output and "--overwrite" in output
    (out / "masks" / "stale.png").write_bytes(b"old")
    code, output = evaluate(ckpt, "synthetic-cells", "--out", out, "--overwrite", "--limit", "1", "--merge", "max")
    assert code == 0, output
    assert json.loads((out / "metrics.json").read_text())["num_images"] == 1
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["image_000.png"], "stale masks are removed"


def test_folder_dataset_uses_its_test_split_and_reports_a_broken_file(ckpt: Path, tmp_path: Path) -> None:
    data = tmp_path / "cells"
    res = runner.invoke(app, ["data", "synth", "--out", str(data), "--size", "64", "--counts", "1,1,3"], env=WIDE)
    assert res.exit_code == 0, res.output
    broken = data / "test" / "masks" / "image_001.png"
    broken.write_bytes(b"not a png")
    out = tmp_path / "eval"
    code, output = evaluate(ckpt, data, "--out", out)
    assert code == 1
    assert any(str(broken) in line and "cannot read" in line for line in output.splitlines()), output
    report = json.loads((out / "metrics.json").read_text())
    assert report["num_images"] == 2 and report["source"]["split"] == "test"
    assert "split test" in output
    assert str(broken) in (out / "report.html").read_text(encoding="utf-8"), "the report lists the problem"

    # the masks just written, scored again from disk: the gallery shows the ground truth's images
    code, output = evaluate("--pred", out, "--gt", data / "test", "--out", tmp_path / "again")
    assert code == 1 and "no prediction" in output  # image_001 was never predicted
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert again["per_class"] == report["per_class"]
    page = (tmp_path / "again" / "report.html").read_text(encoding="utf-8")
    assert page.count('<div class="panels"><span>image</span>') == 2

    code, output = evaluate(ckpt, data, "--out", tmp_path / "x", "--split", "nope")
    assert code == 1 and "nope" in output


def test_image_checkpoint_predicts_a_video_folder_frame_by_frame(ckpt: Path, tmp_path: Path) -> None:
    data = tmp_path / "videos"
    args = ["--out", str(data), "--kind", "cells-video", "--size", "64", "--counts", "1,1,1", "--frames", "3"]
    res = runner.invoke(app, ["data", "synth", *args], env=WIDE)
    assert res.exit_code == 0, res.output
    out = tmp_path / "eval"
    code, output = evaluate(ckpt, data, "--out", out)
    assert code == 0, output
    (video,) = (out / "masks").iterdir()
    assert sorted(p.name for p in video.iterdir()) == ["000000.png", "000001.png", "000002.png"]
    report = json.loads((out / "metrics.json").read_text())
    assert report["sequence_lengths"]["generated"]["windows"] == 3, "one window per frame"
    assert report["sequence_lengths"]["ground_truth"]["windows"] == 3
    assert "(frame " in (out / "report.html").read_text(encoding="utf-8"), "the gallery shows the worst frame"


def test_usage_errors(ckpt: Path, tmp_path: Path) -> None:
    code, output = evaluate(ckpt, "--out", tmp_path)
    assert code == 2 and "give both CKPT and DATA" in output
    code, output = evaluate(ckpt, "synthetic-cells", "--out", tmp_path, "--pred", tmp_path)
    assert code == 2 and "--pred" in output
    code, output = evaluate(ckpt, "synthetic-cells")
    assert code == 2 and "--out" in output
    code, output = evaluate(ckpt, "synthetic-cells", "--out", tmp_path / "o", "--merge", "mean")
    assert code == 1 and "unknown merge 'mean'" in output
    code, output = evaluate(ckpt, tmp_path / "nowhere", "--out", tmp_path / "o")
    assert code == 1 and f"{tmp_path / 'nowhere'}: not found" in output
    code, output = evaluate(tmp_path / "none.ckpt", "synthetic-cells", "--out", tmp_path / "o")
    assert code == 1 and "none.ckpt does not exist" in output
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_training_curves_are_drawn_by_the_curves_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "logs").mkdir()
    ckpt = run / "checkpoints" / "last.ckpt"
    assert training_curves(ckpt) == (None, None), "no logs/metrics.csv"
    (run / "logs" / "metrics.csv").write_text("step,train/loss\n0,1.0\n")
    calls: list[Path] = []

    def plot(csv: Path, png: Path) -> Path:
        calls.append(csv)
        if csv.read_text().startswith("bad"):
            raise ValueError(f"{csv}: broken")
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(png)
        return png

    fake = types.ModuleType(CURVES_MODULE)
    fake.plot_training_curves = plot  # type: ignore[attr-defined]
    fake.__spec__ = types.SimpleNamespace(name=CURVES_MODULE)  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, CURVES_MODULE, fake)
    png, note = training_curves(ckpt)
    assert note is None and png is not None and png.startswith(b"\x89PNG") and calls == [run / "logs" / "metrics.csv"]
    (run / "logs" / "metrics.csv").write_text("bad")
    png, note = training_curves(ckpt)
    assert png is None and note is not None and "broken" in note
    assert training_curves(tmp_path / "elsewhere.ckpt") == (None, None), "not in a run's checkpoints/ folder"


def test_instance_aware_checkpoint_gives_panoptic_quality_and_instance_masks(tmp_path: Path) -> None:
    # an untrained iw model saved the way Lightning saves a task: this checks the wiring of instances
    # (prediction -> instances/ and PQ), not the quality of the masks
    import lightning
    import torch

    from rleseg.config import Config, ModelConfig, TokenizerConfig
    from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
    from rleseg.tokenizers import create_tokenizer

    cfg = Config(
        tokenizer=TokenizerConfig(name="iw", mask_size=8, max_len=24),
        model=ModelConfig(backbone="resnet10t", dim=32, heads=2, encoder_layers=1, decoder_layers=1),
    )
    cfg.data.synthetic_size, cfg.data.patch_size, cfg.data.synthetic_counts = 64, 64, [1, 1, 2]
    tok = create_tokenizer("iw", mask_size=8, num_classes=2, max_len=24)
    task = Pix2SeqSegmenter.from_tokenizer(cfg, tok, ["background", "ipsc", "dfc"])
    ckpt = tmp_path / "iw.ckpt"
    state = {"state_dict": task.state_dict(), "hyper_parameters": dict(task.hparams)}
    torch.save({**state, "pytorch-lightning_version": lightning.__version__}, ckpt)
    out = tmp_path / "eval"
    code, output = evaluate(ckpt, "synthetic-cells", "--out", out)
    assert code == 0, output
    report = json.loads((out / "metrics.json").read_text())
    assert report["panoptic"]["num_images"] == 2 and set(report["panoptic"]["per_class"]) == {"ipsc", "dfc"}
    inst = Image.open(out / "instances" / "image_000.png")
    assert inst.size == (64, 64) and np.array(inst).dtype == np.uint16
    assert report["sequence_lengths"]["generated"]["max"] <= 24
    assert "<th>PQ</th>" in (out / "report.html").read_text(encoding="utf-8") and "Panoptic quality" in output


def test_test_time_views_are_recorded_and_bad_counts_refused(ckpt: Path, tmp_path: Path) -> None:
    code, output = evaluate(ckpt, "synthetic-cells", "--out", tmp_path / "v4", "--views", "4")
    assert code == 0, output
    report = json.loads((tmp_path / "v4" / "metrics.json").read_text())
    assert report["source"]["views"] == 4 and report["sequence_lengths"]["generated"]["windows"] == 2
    code, output = evaluate(ckpt, "synthetic-cells", "--out", tmp_path / "v3", "--views", "3")
    assert code == 1 and "expected 1, 2, 4 or 8, got 3" in output
    assert not (tmp_path / "v3" / "metrics.json").exists()


def test_earliest_start_is_set_for_the_evaluation_recorded_and_bad_values_refused(ckpt: Path, tmp_path: Path) -> None:
    code, output = evaluate(ckpt, "synthetic-cells", "--out", tmp_path / "e", "--earliest-start", "0.1", "--limit", "1")
    assert code == 0, output
    report = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert report["source"]["earliest_start"] == 0.1
    assert "the earliest start at least 0.1x as likely" in (tmp_path / "e" / "report.html").read_text()
    code, output = evaluate(ckpt, "synthetic-cells", "--out", tmp_path / "own", "--limit", "1")  # demo.yaml: 0.2
    assert code == 0 and json.loads((tmp_path / "own" / "metrics.json").read_text())["source"]["earliest_start"] == 0.2
    code, output = evaluate(ckpt, "synthetic-cells", "--out", tmp_path / "off", "--limit", "1", "--earliest-start", "0")
    assert code == 0 and json.loads((tmp_path / "off" / "metrics.json").read_text())["source"]["earliest_start"] is None
    assert "earliest start" not in (tmp_path / "off" / "report.html").read_text()
    code, output = evaluate(ckpt, "synthetic-cells", "--out", tmp_path / "bad", "--earliest-start", "2")
    assert code == 2 and "--earliest-start" in output
    assert not (tmp_path / "bad" / "metrics.json").exists()
