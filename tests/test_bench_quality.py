"""The quality benchmark's tables (from comparison dicts, no training) and run_all's --seeds option."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from benchmarks import bench_quality, run_all
from benchmarks.common import BenchResult, Table

from rleseg.commands.compare_seeds import summarize


def _comparison(p2s: float, unet: float, steps: tuple[int, int]) -> dict[str, Any]:
    def model(name: str, dice: float, n: int) -> dict[str, Any]:
        return {"name": name, "family": "x", "values": {"class_agnostic.dice": dice, "mean.dice": dice / 2, "steps": n}}

    return {
        "data": "d",
        "split": "test",
        "num_images": 6,
        "reference": "cpu-unet",
        "budget": {"minutes": 8},
        "models": [model("cpu-p2s", p2s, steps[0]), model("cpu-unet", unet, steps[1])],
    }


def test_one_seed_rows_give_both_scores_and_their_ratio() -> None:
    table = Table("t", ["dataset", "metric", "cpu-p2s", "cpu-unet", "p2s / unet"])
    bench_quality._single_rows(table, "hgsc", _comparison(0.68, 0.72, (1400, 700)))
    rows = {r[1]: r for r in table.rows}
    assert rows["class-agnostic Dice"][2:] == [68.0, 72.0, f"{0.68 / 0.72:.2f}"]
    assert rows["training steps"][2:] == [1400, 700, "2.00"]
    assert rows["mIoU"][2:] == ["-", "-", "-"], "a score no model has stays empty"


def test_seed_rows_give_mean_sd_ratio_of_means_and_per_seed_ratios() -> None:
    runs = [_comparison(0.66, 0.72, (1400, 700)), _comparison(0.70, 0.70, (1500, 720))]
    table = Table("t", ["dataset", "metric", "cpu-p2s", "cpu-unet", "p2s / unet", "per seed"])
    bench_quality._seed_rows(table, "hgsc", summarize(runs, [0, 1]))
    row = next(r for r in table.rows if r[1] == "class-agnostic Dice")
    assert row[2] == "68.00 ± 2.83" and row[3] == "71.00 ± 1.41"  # sample sd of (66, 70) and (72, 70)
    assert row[4] == f"{68 / 71:.2f}" and row[5] == f"{0.66 / 0.72:.2f}, 1.00"
    steps = next(r for r in table.rows if r[1] == "training steps")
    assert steps[2] == "1450 ± 71"


def test_run_all_passes_seeds_only_to_benchmarks_that_take_them(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict[str, dict[str, Any]] = {}

    def fake(name: str, with_seeds: bool) -> SimpleNamespace:
        def run_seeded(quick: bool = False, seeds: int = 1) -> BenchResult:
            calls[name] = {"quick": quick, "seeds": seeds}
            return BenchResult(name, [], [])

        def run_plain(quick: bool = False) -> BenchResult:
            calls[name] = {"quick": quick}
            return BenchResult(name, [], [])

        return SimpleNamespace(NAME=name, run=run_seeded if with_seeds else run_plain, __name__=name)

    monkeypatch.setattr(run_all, "discover", lambda: [fake("seeded", True), fake("plain", False)])
    monkeypatch.setattr(run_all, "write_results", lambda result, elapsed_s: "nowhere")
    assert run_all.main(["--quick", "--seeds", "3"]) == 0
    assert calls == {"seeded": {"quick": True, "seeds": 3}, "plain": {"quick": True}}
    with pytest.raises(SystemExit):
        run_all.main(["--seeds", "0"])
