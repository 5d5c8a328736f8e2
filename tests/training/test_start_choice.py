"""``generation.earliest_start_choices``: the fraction is chosen on validation by class-agnostic Dice (ties: the
earlier candidate), stored in the checkpoint's config (so ``rleseg evaluate`` uses it), and bad choices or a
model that cannot choose among starts are refused before any training."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from tests.cli_helpers import TINY_RUN
from typer.testing import CliRunner

from rleseg.cli import app
from rleseg.data.synthetic import SyntheticCells
from rleseg.segmenters.loading import load_segmenter
from rleseg.training import start_choice
from rleseg.training.start_choice import (
    CHOICE_KEY,
    StartChoice,
    check_can_choose,
    check_choices,
    choose_earliest_start,
    write_choice,
)

runner = CliRunner()
WIDE = {"COLUMNS": "250"}
DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"
TINY = [*TINY_RUN, "tokenizer.max_len=64", "train.val_every_n_epochs=5", "data.synthetic_counts=[2,2,1]"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("train") / "run"
    args = ["train", str(DEMO), *TINY, f"train.out_dir={out}", "generation.earliest_start_choices=[0.2,1.0]"]
    res = runner.invoke(app, args, env=WIDE)
    assert res.exit_code == 0, res.output
    return out / "checkpoints" / "last.ckpt", res.output


def test_training_stores_the_fraction_with_the_best_validation_dice_and_evaluate_uses_it(
    run: tuple[Path, str], tmp_path: Path
) -> None:
    ckpt, output = run
    assert "chosen on 2 validation samples" in output, output
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    sweep = saved[CHOICE_KEY]
    assert [row["fraction"] for row in sweep["scores"]] == [0.2, 1.0] and sweep["images"] == 2
    dice = [-1.0 if row["class_agnostic_dice"] is None else row["class_agnostic_dice"] for row in sweep["scores"]]
    assert sweep["chosen"] == [0.2, 1.0][int(np.argmax(dice))], "the first of the best"
    assert saved["hyper_parameters"]["config"]["generation"]["earliest_start"] == sweep["chosen"]
    assert load_segmenter(ckpt).cfg.generation.earliest_start == sweep["chosen"]
    res = runner.invoke(app, ["evaluate", str(ckpt), "synthetic-cells", "--out", str(tmp_path / "e"), "--limit", "1"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())["source"]["earliest_start"] == sweep["chosen"]
    html = (tmp_path / "e" / "report.html").read_text()
    assert f"{sweep['chosen']:g}x as likely as the best start (chosen on 2 validation samples after training" in html
    args = ["evaluate", str(ckpt), "synthetic-cells", "--out", str(tmp_path / "f"), "--limit", "1"]
    res = runner.invoke(app, [*args, "--earliest-start", "0.5"], env=WIDE)
    assert res.exit_code == 0, res.output
    html = (tmp_path / "f" / "report.html").read_text()
    assert f"0.5x as likely as the best start (set here; validation after training chose {sweep['chosen']:g})" in html


def _fake_predictions(monkeypatch: pytest.MonkeyPatch, exact: set[float]) -> None:
    """Predictions equal to the ground truth under the fractions in ``exact``, all background otherwise."""

    def predict(predictor: Any, sample: Any, frame_stride: int | None = None) -> Any:
        right = predictor.segmenter.cfg.generation.earliest_start in exact
        return SimpleNamespace(mask=sample.mask if right else np.zeros_like(sample.mask))

    monkeypatch.setattr("rleseg.inference.predictor.Predictor.predict_sample", predict)


def test_the_best_class_agnostic_dice_wins_and_ties_go_to_the_earlier_candidate(
    run: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    val = SyntheticCells("val", num_images=2, size=64, seed=0)
    segmenter = load_segmenter(run[0])
    _fake_predictions(monkeypatch, {0.35})
    choice = choose_earliest_start(segmenter, val, [0.2, 0.35, 1.0], device="cpu", show_progress=False)
    assert choice.chosen == 0.35 and segmenter.cfg.generation.earliest_start == 0.35
    assert [(f, a) for f, a, _ in choice.scores] == [(0.2, 0.0), (0.35, 1.0), (1.0, 0.0)]
    assert choice.images == 2 and choice.seconds >= 0
    _fake_predictions(monkeypatch, {0.5, 0.1})
    assert choose_earliest_start(segmenter, val, [0.5, 0.1], device="cpu", show_progress=False).chosen == 0.5


@pytest.mark.parametrize(
    ("choices", "message"),
    [([0.0], "expected fractions in (0, 1]"), ([1.5], "1.5"), ([True], "True"), ([0.2, 0.2], "twice"), ([], "empty")],
)
def test_bad_choices_are_refused_naming_the_value(choices: list[Any], message: str) -> None:
    with pytest.raises(ValueError, match="earliest_start_choices") as err:
        check_choices(choices)
    assert message in str(err.value)


def test_a_model_that_samples_cannot_choose_and_keeps_its_settings(run: tuple[Path, str]) -> None:
    segmenter = load_segmenter(run[0])
    before = segmenter.cfg.generation.earliest_start
    check_can_choose(segmenter, [0.5])
    assert segmenter.cfg.generation.earliest_start == before
    segmenter.set_earliest_start(None)
    segmenter.cfg.generation.greedy = False
    with pytest.raises(ValueError, match="sampling"):
        check_can_choose(segmenter, [0.5])
    assert segmenter.cfg.generation.earliest_start is None


def test_training_refuses_choices_the_model_cannot_use_before_any_step(tmp_path: Path) -> None:
    out = tmp_path / "run"
    sampling = ["generation.earliest_start=null", "generation.greedy=false", "generation.earliest_start_choices=[0.5]"]
    res = runner.invoke(app, ["train", str(DEMO), *TINY, f"train.out_dir={out}", *sampling], env=WIDE)
    assert res.exit_code == 1 and "sampling" in res.output, res.output
    assert not list(out.glob("checkpoints/*.ckpt"))
    bad = "generation.earliest_start_choices=[2]"
    res = runner.invoke(app, ["train", str(DEMO), *TINY, f"train.out_dir={out}", bad], env=WIDE)
    assert res.exit_code == 1 and "earliest_start_choices holds 2.0" in res.output, res.output


def test_write_choice_replaces_the_file_whole_and_refuses_a_file_without_config(tmp_path: Path) -> None:
    ckpt = tmp_path / "m.ckpt"
    torch.save({"hyper_parameters": {"config": {"generation": {"earliest_start": 0.2}}}, "state_dict": {}}, ckpt)
    choice = StartChoice(0.5, [(0.2, 0.6, 0.5), (0.5, 0.7, None)], 3, 1.5)
    write_choice(ckpt, choice)
    saved = torch.load(ckpt, weights_only=False)
    assert saved["hyper_parameters"]["config"]["generation"]["earliest_start"] == 0.5
    assert saved[CHOICE_KEY] == choice.as_dict() and saved[CHOICE_KEY]["scores"][1]["mean_dice"] is None
    assert [p.name for p in tmp_path.iterdir()] == ["m.ckpt"], "no temporary file left"
    torch.save({"state_dict": {}}, tmp_path / "bare.ckpt")
    with pytest.raises(ValueError, match="bare.ckpt holds no config"):
        write_choice(tmp_path / "bare.ckpt", choice)
    assert start_choice.CHOICE_KEY not in torch.load(tmp_path / "bare.ckpt", weights_only=False)
