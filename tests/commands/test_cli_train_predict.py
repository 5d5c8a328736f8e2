"""``rleseg train`` writes config.yaml and checkpoints, ``rleseg predict`` writes full-size masks and overlays,
``rleseg demo`` trains, evaluates on held-out images and writes metrics.json; all with a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from tests.cli_helpers import TINY_RUN
from typer.testing import CliRunner

from rleseg.cli import app
from rleseg.metrics import REPORT_KEYS

runner = CliRunner()
WIDE = {"COLUMNS": "250"}
TINY = [
    *TINY_RUN,
    "tokenizer.max_len=64",
    "train.val_every_n_epochs=1",
    "data.synthetic_counts=[4,2,2]",
]
DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("train") / "run"
    res = runner.invoke(app, ["train", str(DEMO), *TINY, f"train.out_dir={out}"], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "best checkpoint" in res.output and "val/dice" in res.output
    return out


def test_train_writes_config_and_checkpoints(run_dir: Path) -> None:
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert (
        saved["model"]["family"] == "pix2seq"
        and saved["model"]["pix2seq"]["dim"] == 32
        and saved["data"]["synthetic_counts"] == [4, 2, 2]
    )
    assert saved["train"]["out_dir"] == str(run_dir) and saved["train"]["resume"] is None
    assert (run_dir / "checkpoints" / "best.ckpt").is_file() and (run_dir / "checkpoints" / "last.ckpt").is_file()


def test_train_refuses_a_run_folder_with_checkpoints_and_resumes(run_dir: Path) -> None:
    args = ["train", str(DEMO), *TINY, f"train.out_dir={run_dir}"]
    res = runner.invoke(app, args, env=WIDE)
    assert res.exit_code == 1 and "already holds checkpoints" in res.output and "--resume" in res.output
    last = run_dir / "checkpoints" / "last.ckpt"
    res = runner.invoke(app, [*args, "train.max_epochs=2", "--resume", str(last)], env=WIDE)
    assert res.exit_code == 0, res.output
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["resume"] == str(last)


def test_train_config_errors(tmp_path: Path) -> None:
    res = runner.invoke(app, ["train", str(tmp_path / "missing.yaml")], env=WIDE)
    assert res.exit_code == 1 and "missing.yaml does not exist" in res.output
    res = runner.invoke(app, ["train", str(DEMO), "train.bogus=3", f"train.out_dir={tmp_path}"], env=WIDE)
    assert res.exit_code == 1 and "unknown key(s) ['bogus']" in res.output


def test_predict_writes_full_size_masks_and_overlays(run_dir: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(inputs / "a.png")
    Image.fromarray(rng.integers(0, 255, (50, 90), dtype=np.uint8)).save(inputs / "b.jpg")  # gray, other size
    out = tmp_path / "pred"
    ckpt = str(run_dir / "checkpoints" / "best.ckpt")
    res = runner.invoke(app, ["predict", ckpt, str(inputs), "--out", str(out), "--merge", "max"], env=WIDE)
    assert res.exit_code == 0, res.output
    for name, (h, w) in (("a", (64, 64)), ("b", (50, 90))):
        mask = Image.open(out / "masks" / f"{name}.png")
        assert mask.mode == "L" and mask.size == (w, h)
        assert int(np.array(mask).max()) <= 2
        over = Image.open(out / "overlays" / f"{name}.png")
        assert over.mode == "RGB" and over.size == (w, h)
    assert not (out / "instances").exists(), "a lac model has no instances"
    assert not list(out.rglob(".*.tmp*")), "no temporary file is left behind"
    res = runner.invoke(app, ["predict", ckpt, str(inputs / "a.png"), "--out", str(out)], env=WIDE)
    assert res.exit_code == 1 and f"{out / 'masks' / 'a.png'} already exists" in res.output
    args = ["predict", ckpt, str(inputs / "a.png"), "--out", str(out), "--overwrite", "--earliest-start", "0.2"]
    res = runner.invoke(app, args, env=WIDE)
    assert res.exit_code == 0, res.output


def test_predict_names_unreadable_and_missing_inputs(run_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    ckpt = str(run_dir / "checkpoints" / "best.ckpt")
    res = runner.invoke(app, ["predict", ckpt, str(bad), "--out", str(tmp_path / "o")], env=WIDE)
    assert res.exit_code == 1 and f"{bad}: cannot read" in res.output
    res = runner.invoke(app, ["predict", ckpt, str(tmp_path / "nope.png"), "--out", str(tmp_path / "o")], env=WIDE)
    assert res.exit_code == 1 and "nope.png: no such file" in res.output
    res = runner.invoke(app, ["predict", str(tmp_path / "x.ckpt"), str(bad), "--out", str(tmp_path / "o")], env=WIDE)
    assert res.exit_code == 1 and "x.ckpt does not exist" in res.output


def test_demo_tokenizers_still_exits_zero() -> None:
    res = runner.invoke(app, ["demo", "--tokenizers", "-S", "16"], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "round-trip exactly" in res.output


def test_demo_trains_evaluates_and_writes_metrics(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = runner.invoke(app, ["demo", "--out", str(out), "--minutes", "5", *TINY], env=WIDE)
    assert res.exit_code == 0, res.output
    report = json.loads((out / "metrics.json").read_text())
    assert set(REPORT_KEYS) <= set(report) and report["classes"] == ["ipsc", "dfc"]
    assert report["num_images"] == 2, "the two held-out test images"
    assert "class-agnostic" in res.output and "pix_acc" in res.output
    assert yaml.safe_load((out / "run" / "config.yaml").read_text())["train"]["max_time_minutes"] == 5
    assert (out / "run" / "checkpoints" / "last.ckpt").is_file()
    masks = sorted((out / "masks").glob("*.png"))
    strips = sorted((out / "overlays").glob("*.png"))
    assert [p.name for p in masks] == [p.name for p in strips] == ["image_000.png", "image_001.png"]
    assert Image.open(masks[0]).size == (64, 64)
    assert Image.open(strips[0]).size[0] > 3 * 64, "image | ground truth | prediction"
    html = (out / "report.html").read_text()
    assert 'id="metrics-table"' in html and "image_000" in html, "the report with its gallery"
