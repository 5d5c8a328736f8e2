"""``rleseg compare``: two tiny token models trained for 3 steps on a synthetic folder dataset, compared on its
test split (comparison.json agrees with each evaluation's metrics.json, relative changes, the tables, the HTML
grid); checkpoints evaluated as they are (steps and Timer time read from them); a per-pixel smp baseline
beside a token model; the errors raised before anything is trained."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from tests.cli_helpers import TINY_RUN
from typer.testing import CliRunner

from rleseg.cli import app
from rleseg.commands import compare as compare_cmd
from rleseg.commands.common import CommandError
from rleseg.report.compare_page import SideBySide, relative
from rleseg.report.gallery import image_score

runner = CliRunner()
WIDE = {"COLUMNS": "250"}
DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"
# TINY_RUN, then 3 optimizer steps of batches of 2, validated once, at the end (best.ckpt: the final weights)
TINY = [
    *TINY_RUN,
    "tokenizer.max_len=64",
    "data.batch_size=2",
    "train.max_epochs=5",
    "train.max_steps=3",
    "train.val_every_n_epochs=10",
]
SETS = [arg for s in TINY for arg in ("--set", s)]


def run(*args: str | Path) -> tuple[int, str]:
    res = runner.invoke(app, ["compare", *map(str, args)], env=WIDE)
    return res.exit_code, res.output


@pytest.fixture(scope="module")
def cells(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder dataset: 4 train, 1 val, 3 test images of 64 x 64 pixels."""
    out = tmp_path_factory.mktemp("data") / "cells"
    res = runner.invoke(app, ["data", "synth", "--out", str(out), "--size", "64", "--counts", "4,1,3"], env=WIDE)
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def compared(cells: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """configs/demo.yaml (lac) against a copy with the multiclass tokenizer, 1-minute budget (so Lightning's
    Timer goes into the checkpoints), 3 steps each."""
    root = tmp_path_factory.mktemp("compare")
    config = yaml.safe_load(DEMO.read_text())
    config["tokenizer"]["name"] = "multiclass"
    (root / "multiclass.yaml").write_text(yaml.safe_dump(config))
    out = root / "out"
    code, output = run(DEMO, root / "multiclass.yaml", "--data", cells, "--out", out, "--minutes", "1", *SETS)
    assert code == 0, output
    return out, output


def load(out: Path) -> dict:
    return json.loads((out / "comparison.json").read_text())


def test_every_config_is_trained_evaluated_and_tabled(compared: tuple[Path, str], cells: Path) -> None:
    out, output = compared
    result = load(out)
    assert result["reference"] == "demo" and result["split"] == "test" and result["num_images"] == 3
    assert result["budget"]["minutes"] == 1 and "train.max_steps=3" in result["budget"]["overrides"]
    assert [m["name"] for m in result["models"]] == ["demo", "multiclass"]
    for m in result["models"]:
        assert m["kind"] == "config" and m["family"] == "pix2seq" and m["problems"] == 0
        assert Path(m["checkpoint"]) == out / "runs" / m["name"] / "checkpoints" / "best.ckpt"
        v = m["values"]
        assert v["steps"] == v["checkpoint_step"] == 3
        assert v["train_seconds"] > 0 and v["predict_seconds"] > 0 and v["parameters"] > 1000
        metrics = json.loads((out / "eval" / m["name"] / "metrics.json").read_text())
        assert m["metrics"] == metrics, "the evaluation's metrics.json, whole"
        assert v["class_agnostic.dice"] == metrics["class_agnostic"]["dice"] and v["miou"] == metrics["miou"]
        for cls in ("ipsc", "dfc"):
            for key in ("recall", "precision", "dice"):
                assert v[f"per_class.{cls}.{key}"] == metrics["per_class"][cls][key]
        assert "panoptic.pq" not in v, "lac and multiclass are not instance-aware"
    demo, other = (m["values"] for m in result["models"])
    assert all(r is None for r in result["models"][0]["relative"].values()), "the reference itself"
    rel = result["models"][1]["relative"]
    assert set(rel) == set(other)
    for key, r in rel.items():
        if demo[key] in (None, 0) or other[key] is None:
            assert r is None, key
        else:
            assert r == pytest.approx((other[key] - demo[key]) / demo[key]), key
    # every image scored against each model's saved masks, worst first by the mean Dice over the models
    images = result["images"]
    assert sorted(i["name"] for i in images) == ["image_000", "image_001", "image_002"]
    assert [i["mean_dice"] for i in images] == sorted(i["mean_dice"] for i in images)
    first = images[0]
    gt = np.asarray(Image.open(cells / "test" / "masks" / f"{first['name']}.png"))
    for name, dice in first["dice"].items():
        pred = np.asarray(Image.open(out / "eval" / name / "masks" / f"{first['name']}.png"))
        assert dice == pytest.approx(image_score(gt, pred, 2).dice)
    assert first["mean_dice"] == pytest.approx(np.mean(list(first["dice"].values())))
    # the page: both tables, every model, every image with image | truth | two models, all embedded
    page = (out / "comparison.html").read_text(encoding="utf-8")
    assert 'id="summary-table"' in page and 'id="class-table"' in page and 'id="grid"' in page
    assert all(f"data-model='{n}'" in page and "eval/" + n + "/report.html" in page for n in ("demo", "multiclass"))
    assert re.findall(r'class="case-row" data-name="([^"]+)"', page) == [i["name"] for i in images]
    assert page.count('src="data:image/png;base64,') == 3 * 4 and "http" not in page.replace("http-equiv", "")
    # the terminal: the summary with a relative row, the per-class table, where the files are
    assert "Comparison on" in output and "vs demo" in output and "Per class (%)" in output
    assert "Precision (IoU)" in output and "class-agnostic" in output and "comparison.html" in output
    assert not list(out.rglob("*.tmp*"))


def test_checkpoints_are_evaluated_as_they_are(compared: tuple[Path, str], cells: Path, tmp_path: Path) -> None:
    out, _ = compared
    mc = out / "runs" / "multiclass" / "checkpoints" / "best.ckpt"
    state = torch.load(out / "runs" / "demo" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    del state["callbacks"]["Timer"]  # a run without a time budget: its training time is unknown
    bare = tmp_path / "bare.ckpt"
    torch.save(state, bare)
    where = tmp_path / "again"
    args = [mc, bare, "--data", cells, "--out", where, "--reference", "bare", "--images", "1"]
    code, output = run(*args)
    assert code == 0, output
    result = load(where)
    assert [m["name"] for m in result["models"]] == ["multiclass", "bare"], "a run's checkpoint: the run's name"
    assert not (where / "runs").exists(), "nothing trained"
    first = load(out)
    by_name = {m["name"]: m for m in result["models"]}
    assert by_name["multiclass"]["kind"] == "checkpoint" and by_name["multiclass"]["input"] == str(mc)
    assert by_name["multiclass"]["metrics"] == first["models"][1]["metrics"], "same checkpoint, same scores"
    assert by_name["multiclass"]["values"]["steps"] == by_name["bare"]["values"]["steps"] == 3, "global_step"
    assert 0 < by_name["multiclass"]["values"]["train_seconds"] < 60, "Lightning's Timer"
    assert by_name["bare"]["values"]["train_seconds"] is None
    assert by_name["multiclass"]["relative"]["train_seconds"] is None
    assert any("bare: training time unknown" in n for n in result["notes"])
    assert "?" in output and "vs bare" in output
    page = (where / "comparison.html").read_text(encoding="utf-8")
    assert page.count('class="case-row"') == 1 and "the 1 worst of 3 images" in page

    code, output = run(*args)
    assert code == 1 and "comparison.json already exists" in output and "--overwrite" in output
    code, output = run(*args[:-2], "--overwrite")
    assert code == 0, output
    assert (where / "comparison.html").read_text(encoding="utf-8").count('class="case-row"') == 3


def test_a_per_pixel_baseline_beside_a_token_model(compared: tuple[Path, str], cells: Path, tmp_path: Path) -> None:
    pytest.importorskip("rleseg.segmenters.smp")
    out, _ = compared
    unet = tmp_path / "unet.yaml"
    unet.write_text(
        yaml.safe_dump({"model": {"family": "smp", "smp": {"encoder": "tu-resnet10t", "encoder_depth": 3}}})
    )
    where = tmp_path / "families"
    demo = out / "runs" / "demo" / "checkpoints" / "last.ckpt"
    code, output = run(demo, unet, "--data", cells, "--out", where, *SETS, "--reference", "unet")
    assert code == 0, output
    result = load(where)
    assert [(m["name"], m["family"], m["kind"]) for m in result["models"]] == [
        ("demo", "pix2seq", "checkpoint"),
        ("unet", "smp", "config"),
    ]
    assert result["models"][1]["values"]["steps"] == 3 and "smp" in output and "vs unet" in output
    page = (where / "comparison.html").read_text(encoding="utf-8")
    assert "data-model='unet'" in page and page.count('src="data:image/png;base64,') == 3 * 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope.yaml"], "nope.yaml does not exist"),
        ([DEMO, "--data", "missing-folder"], "data folder missing-folder does not exist"),
        ([DEMO, "TXT"], "classes.txt: expected a YAML config (.yaml, .yml) or a checkpoint (.ckpt)"),
        ([DEMO, "--reference", "other"], "unknown reference 'other'; the models are demo"),
        ([DEMO, DEMO, "--name", "a"], "got 1 name(s) for 2 input(s)"),
        ([DEMO, DEMO, "--name", "a", "--name", "a"], "a given twice"),
        ([DEMO, "--name", "x/y"], "cannot name a folder"),
        ([DEMO, "--set", "model.nonsense=1"], "unknown key"),
        ([DEMO, "--minutes", "0"], "must be positive"),
        ([DEMO, "--device", "cuda:1"], "CUDA_VISIBLE_DEVICES"),
    ],
)
def test_bad_inputs_fail_before_any_training(args: list, message: str, cells: Path, tmp_path: Path) -> None:
    args = [str(cells / "test" / "classes.txt") if a == "TXT" else str(a) for a in args]
    if "--data" not in args:
        args += ["--data", str(cells)]
    code, output = run(*args, "--out", tmp_path / "out")
    assert code in (1, 2), output
    assert message in " ".join(output.split()), output
    assert not (tmp_path / "out").exists()


def test_a_config_whose_training_wrote_no_checkpoint(
    cells: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rleseg.commands.train import TrainResult

    def no_checkpoint(cfg, overwrite=False):  # noqa: ANN001, ANN202
        return TrainResult(Path(cfg.train.out_dir), Path(cfg.train.out_dir) / "config.yaml", None, None)

    monkeypatch.setattr(compare_cmd.train_cmd, "fit", no_checkpoint)
    with pytest.raises(CommandError, match=r"demo.yaml: training wrote no checkpoint in .*runs/demo/checkpoints"):
        compare_cmd.compare([DEMO], cells, tmp_path / "out", overrides=TINY)


def test_earlier_runs_are_kept_without_overwrite(cells: Path, tmp_path: Path) -> None:
    old = tmp_path / "out" / "runs" / "demo" / "checkpoints" / "last.ckpt"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"earlier")
    with pytest.raises(CommandError, match="left from an earlier comparison; pass --overwrite"):
        compare_cmd.plan([DEMO], cells, tmp_path / "out")


def test_default_names_and_relative_changes() -> None:
    paths = [Path("a.yaml"), Path("runs/a/checkpoints/last.ckpt"), Path("x/b.ckpt"), Path("c/a.yml")]
    assert compare_cmd.default_names(paths) == ["a", "a-2", "b", "a-3"]
    rel = relative({"d": 0.6, "z": 0.1, "u": None, "s": 30}, {"d": 0.5, "z": 0.0, "u": 0.2, "s": 20})
    assert rel == {"d": pytest.approx(0.2), "z": None, "u": None, "s": pytest.approx(0.5)}


def test_side_by_side_keeps_the_worst_and_shows_a_video_by_its_worst_frame() -> None:
    gt = np.zeros((3, 8, 8), np.int64)
    gt[:, 2:6, 2:6] = 1
    good, bad = gt.copy(), gt.copy()
    bad[1] = 0  # frame 2 of the video: nothing found
    side = SideBySide(["a", "b"], num_classes=1, keep=2)
    image = np.full((3, 8, 8, 3), 90, np.uint8)
    side.add("clip", image, gt, [good, bad])
    side.add("perfect", image[0], gt[0], [good[0], good[0]])
    side.add("half", image[0], gt[0], [good[0], None])  # b predicted nothing for it: a's Dice alone
    assert [s["name"] for s in side.images()] == ["clip (frame 2 of 3)", "half", "perfect"]
    assert side.images()[0]["dice"] == {"a": 1.0, "b": 0.0} and side.images()[1]["mean_dice"] == 1.0
    assert [r.name for r in side.rows] == ["clip (frame 2 of 3)", "half"], "keep=2: the worst two"
    row = side.rows[1]
    assert row.panels[3] is None and all(p.shape == (8, 8, 3) for p in row.panels[:3])
