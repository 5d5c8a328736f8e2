"""The ``rleseg`` command: vocab, stats on PNG masks, demo, and clear errors on bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from rleseg.cli import app
from rleseg.demo import run_demo, same_partition, synthetic_masks, synthetic_video

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def _save(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr.astype(np.uint8)).save(path)
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_vocab_prints_the_paper_number(tmp_path: Path) -> None:
    res = runner.invoke(app, ["vocab", "-S", "80", "-C", "2", "-s", "lac,multiclass"], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "6,560" in res.output and "6,482" in res.output  # paper III-C
    res = runner.invoke(app, ["vocab", "--S", "80", "--C", "1,2", "--N", "2,3,4", "--out", str(tmp_path)], env=WIDE)
    assert res.exit_code == 0, res.output
    rows = _rows(tmp_path / "vocab.csv")
    tac = [r for r in rows if r["scheme"] == "tac" and r["C"] == "1"]
    assert [int(r["V"]) for r in tac] == [6483, 6487, 6495]  # 6400 + 80 + (2^N - 1)
    assert len(json.loads((tmp_path / "vocab.json").read_text())["rows"]) == len(rows)


def test_vocab_flags_large_vocabularies() -> None:
    res = runner.invoke(app, ["vocab", "-S", "80", "-C", "2", "-N", "16", "-s", "tac"], env=WIDE)
    assert res.exit_code == 0 and "43.1M" in res.output


def test_stats_on_png_masks_writes_tables(tmp_path: Path) -> None:
    for k, (mask, _) in enumerate(synthetic_masks(seed=3, size=160, count=2)):
        _save(tmp_path / "masks" / f"m{k}.png", mask)
    out = tmp_path / "out"
    args = ["stats", str(tmp_path / "masks"), "-s", "lac,multiclass,binary", "-I", "160", "-P", "80"]
    res = runner.invoke(app, [*args, "-S", "80,40", "-C", "2", "--out", str(out)], env=WIDE)
    assert res.exit_code == 0, res.output
    rows = _rows(out / "lengths.csv")
    assert len(rows) == 3 * 2  # schemes x mask sizes
    assert {r["windows"] for r in rows} == {"8"}  # 2 masks x 4 patches
    assert all(r["binarised"] == "True" for r in rows if r["scheme"] == "binary")
    assert len(json.loads((out / "lengths.json").read_text())["rows"]) == 6
    loss = _rows(out / "subsampling.csv")
    assert len(loss) == 2 and loss[0]["recall"] == "1.0" and float(loss[1]["dice"]) < 1.0
    assert len(json.loads((out / "subsampling.json").read_text())["rows"]) == 2
    assert "Sequence lengths" in res.output


def test_stats_on_video_folders(tmp_path: Path) -> None:
    for name, seed in (("a", 0), ("b", 1)):
        video, _ = synthetic_video(seed=seed, size=40, frames=4)
        for t, frame in enumerate(video):
            _save(tmp_path / "videos" / name / f"frame_{t}.png", frame)
    res = runner.invoke(
        app,
        [
            "stats",
            str(tmp_path / "videos"),
            "-s",
            "tac,lac",
            "-N",
            "2,3",
            "-C",
            "2",
            "--no-loss",
            "-o",
            str(tmp_path),
        ],
        env=WIDE,
    )
    assert res.exit_code == 0, res.output
    rows = _rows(tmp_path / "lengths.csv")
    by = {(r["scheme"], r["N"]): r for r in rows}
    assert by[("lac", "")]["windows"] == "8"  # every frame of both videos
    assert by[("tac", "2")]["windows"] == "4"  # clips [0, 1], [2, 3] per video
    assert by[("tac", "3")]["windows"] == "4"  # clips [0, 2], [1, 3] per video
    assert not (tmp_path / "subsampling.csv").exists()


def test_stats_errors_name_the_file_and_value(tmp_path: Path) -> None:
    bad = _save(tmp_path / "bad.png", np.array([[0, 1], [7, 0]]))
    res = runner.invoke(app, ["stats", str(bad), "-C", "2"], env=WIDE)
    assert res.exit_code == 1
    assert "bad.png" in res.output and "class id 7" in res.output and "--num-classes 2" in res.output

    res = runner.invoke(app, ["stats", str(tmp_path / "missing.png")], env=WIDE)
    assert res.exit_code == 1 and "missing.png: no such file or folder" in res.output

    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(rgb)
    res = runner.invoke(app, ["stats", str(rgb)], env=WIDE)
    assert res.exit_code == 1 and "rgb.png" in res.output and "single-channel" in res.output

    res = runner.invoke(app, ["stats", str(bad), "-s", "tac"], env=WIDE)
    assert res.exit_code == 1 and "folders of frame PNGs" in res.output

    res = runner.invoke(app, ["stats", str(bad), "-s", "nope"], env=WIDE)
    assert res.exit_code == 2 and "unknown tokenizer" in res.output

    res = runner.invoke(app, ["stats", str(bad), "-P", "80", "-S", "160"], env=WIDE)
    assert res.exit_code == 2 and "S must be <= P" in res.output


def test_binarize_handles_0_255_masks(tmp_path: Path) -> None:
    m = _save(tmp_path / "m.png", np.array([[0, 255], [255, 255]]))
    res = runner.invoke(app, ["stats", str(m), "--binarize", "-s", "lac", "-o", str(tmp_path)], env=WIDE)
    assert res.exit_code == 0, res.output
    assert _rows(tmp_path / "lengths.csv")[0]["mean"] == "4.0"  # runs (1, 1) and (2, 2)


def test_demo_exits_zero() -> None:
    res = runner.invoke(app, ["demo", "--tokenizers"], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "round-trip exactly" in res.output and "FAILED" not in res.output


def test_demo_rows_and_data_are_deterministic() -> None:
    rows = run_demo(seed=1)
    assert all(r["round_trip"] for r in rows), [r for r in rows if not r["round_trip"]]
    assert {r["scheme"] for r in rows} >= {"binary", "lac", "tac", "iw", "cw", "bac", "diff"}
    assert rows == run_demo(seed=1)
    (m1, i1), (m2, i2) = synthetic_masks(seed=5, count=1)[0], synthetic_masks(seed=5, count=1)[0]
    assert np.array_equal(m1, m2) and np.array_equal(i1, i2) and set(np.unique(m1)) <= {0, 1, 2}
    assert same_partition(i1, i1 * 3) and not same_partition(i1, (i1 > 0).astype(int))


@pytest.mark.parametrize("argv", [["-m", "rleseg", "--help"], ["-m", "rleseg.cli", "vocab", "-S", "8", "-s", "lac"]])
def test_module_entry_points(argv: list[str]) -> None:
    res = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert ("stats" in res.stdout) if "--help" in argv else ("80" in res.stdout)
