"""``rleseg compare --seeds K``: the spread of a model's scores (against numpy), the per-seed ratios to the
reference, and a tiny end-to-end run (two seeds of one config under two names: same seed, same scores; each
seed's own folder, train.seed offset by k; seeds.json, seeds.png, the table); what is refused before training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from tests.commands.test_compare import DEMO, SETS, cells, run  # noqa: F401  (cells: a module fixture)

from rleseg.commands.compare_seeds import seeds_chart, spread, summarize


def test_spread_matches_numpy_and_skips_unknown_values() -> None:
    s = spread([0.5, None, 0.7, 0.9])
    assert s["values"] == [0.5, None, 0.7, 0.9]
    assert s["mean"] == pytest.approx(0.7) and s["min"] == 0.5 and s["max"] == 0.9
    assert s["sd"] == pytest.approx(np.std([0.5, 0.7, 0.9], ddof=1))
    one = spread([0.25])
    assert one["mean"] == 0.25 and one["sd"] is None, "no spread from one value"
    assert spread([None, None]) == {"values": [None, None], "mean": None, "sd": None, "min": None, "max": None}


def _comparison(values: dict[str, dict[str, float | None]]) -> dict:
    models = [{"name": n, "family": "pix2seq" if n == "p2s" else "smp", "values": v} for n, v in values.items()]
    return {"data": "d", "split": "test", "num_images": 6, "reference": "unet", "budget": {}, "models": models}


def test_ratios_are_paired_per_seed_and_of_the_means() -> None:
    runs = [
        _comparison({"p2s": {"dice": 0.6, "miou": None}, "unet": {"dice": 0.8, "miou": 0.5}}),
        _comparison({"p2s": {"dice": 0.7, "miou": 0.4}, "unet": {"dice": 0.7, "miou": 0.0}}),
    ]
    report = summarize(runs, [0, 1])
    assert report["seeds"] == [0, 1] and report["reference"] == "unet" and report["num_images"] == 6
    p2s, unet = report["models"]
    assert p2s["name"] == "p2s" and "ratio" not in unet, "the reference has no ratio to itself"
    assert p2s["values"]["dice"]["mean"] == pytest.approx(0.65)
    dice = p2s["ratio"]["dice"]
    assert dice["values"] == pytest.approx([0.75, 1.0]) and dice["mean"] == pytest.approx(0.875)
    assert dice["of_means"] == pytest.approx(0.65 / 0.75)
    miou = p2s["ratio"]["miou"]
    assert miou["values"] == [None, None], "unknown model value, then a reference of 0"
    assert miou["mean"] is None and miou["of_means"] == pytest.approx(0.4 / 0.25)
    png = seeds_chart(report)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_two_seeds_end_to_end(cells: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out"
    code, output = run(DEMO, DEMO, "--name", "a", "--name", "b", "--data", cells, "--out", out, "--seeds", "2", *SETS)
    assert code == 0, output
    report = json.loads((out / "seeds.json").read_text())
    assert report["seeds"] == [0, 1] and report["reference"] == "a" and report["num_images"] == 3
    assert report["comparisons"] == [str(out / f"seed-{k}" / "comparison.json") for k in (0, 1)]
    base = yaml.safe_load(DEMO.read_text()).get("train", {}).get("seed", 0)
    for k in (0, 1):
        seed_run = json.loads((out / f"seed-{k}" / "comparison.json").read_text())
        assert seed_run["budget"]["seed_offset"] == k
        for name in ("a", "b"):
            config = yaml.safe_load((out / f"seed-{k}" / "runs" / name / "config.yaml").read_text())
            assert config["train"]["seed"] == base + k
        per_model = {m["name"]: m["values"] for m in seed_run["models"]}
        for key in ("class_agnostic.dice", "mean.dice", "miou"):  # summarized from exactly these files
            for m in report["models"]:
                assert m["values"][key]["values"][k] == per_model[m["name"]][key]
    a, b = report["models"]
    assert a["values"]["steps"]["values"] == [3, 3] and a["values"]["steps"]["sd"] == 0
    # the same config with the same seed trains the same weights on a CPU: equal scores, ratio 1
    for key in ("class_agnostic.dice", "mean.dice"):
        assert b["values"][key]["values"] == a["values"][key]["values"]
        assert all(r is None or r == pytest.approx(1.0) for r in b["ratio"][key]["values"])
    with Image.open(out / "seeds.png") as chart:
        assert chart.width > 300 and chart.height > 150
    words = " ".join(output.split())  # the table's title wraps where the terminal is narrow
    assert "2 seeds on" in words and "mean ± sd" in words and "seeds.json" in words and "seed 2 of 2" in words
    assert not list(out.rglob("*.tmp*"))
    # a second call refuses before training anything, naming the file and the way out
    code, output = run(DEMO, DEMO, "--name", "a", "--name", "b", "--data", cells, "--out", out, "--seeds", "2", *SETS)
    assert code == 1 and "seeds.json already exists" in output and "--overwrite" in output


def test_seed_folders_left_from_an_earlier_run_are_refused_before_training(cells: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out"
    (out / "seed-1").mkdir(parents=True)
    (out / "seed-1" / "comparison.json").write_text("{}")
    code, output = run(DEMO, "--data", cells, "--out", out, "--seeds", "2", *SETS)
    assert code == 1 and str(out / "seed-1" / "comparison.json") in output and "already exists" in output
    assert not (out / "seed-0").exists(), "nothing trained"
    code, output = run(DEMO, "--data", cells, "--out", out, "--seeds", "0", *SETS)
    assert code == 2 and "--seeds" in output
