"""Training curves: Lightning CSV logs (a real tiny run, resumed once, and hand-written ones) -> one PNG."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rleseg.report.curves import (
    drop_log_parts,
    find_metric_files,
    keep_log_before_resume,
    plot_run_curves,
    plot_training_curves,
    read_training_log,
    smooth,
)

# written by `rleseg train` (tiny demo config, 2 epochs) and `rleseg train --resume last.ckpt` (to 4 epochs)
TINY_RUN = Path(__file__).parent / "data" / "tiny-run"
HEADER = "epoch,lr-AdamW/pg1,step,train/loss,train/token_acc,val/dice,val/loss\n"


def _png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_a_resumed_real_run_is_read_whole(tmp_path: Path) -> None:
    log = read_training_log(TINY_RUN)
    assert [p.name for p in log.sources] == ["metrics.part-1.csv", "metrics.csv"]
    steps, loss = log.series("train/loss")
    assert steps.tolist() == list(range(8)) and np.isfinite(loss).all()  # 4 steps before and 4 after resuming
    assert [e for e, _ in log.epoch_starts()] == [0, 1, 2, 3]
    assert log.series("val/dice")[0].size == 4 and log.lr_keys == ["lr-AdamW/pg1", "lr-AdamW/pg2"]
    # naming logs/metrics.csv reads the parts beside it too
    assert [p.name for p in find_metric_files(TINY_RUN / "logs" / "metrics.csv")] == [p.name for p in log.sources]
    out = plot_training_curves(TINY_RUN / "logs" / "metrics.csv", tmp_path / "curves.png")
    assert out == tmp_path / "curves.png" and min(_png_size(out)) > 400
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temporary file left


def test_missing_validation_columns_still_plot(tmp_path: Path) -> None:
    csv = tmp_path / "metrics.csv"
    rows = [f"{s // 10},,{s},{5 - s / 20},{s / 40},,\n" for s in range(40)]
    csv.write_text(HEADER + "".join(rows))
    log = read_training_log(csv)
    assert log.series("val/dice")[0].size == 0 and log.series("train/loss")[0].size == 40
    assert "val/miou" not in log.values
    assert _png_size(plot_training_curves(csv, tmp_path / "out" / "c.png"))[0] > 400


def test_a_later_part_replaces_the_steps_it_logs_again(tmp_path: Path) -> None:
    logs = tmp_path / "run" / "logs"
    logs.mkdir(parents=True)
    (logs / "metrics.csv").write_text(HEADER + "".join(f"0,,{s},1.0,,," + "\n" for s in range(10)))
    assert keep_log_before_resume(logs) == logs / "metrics.part-1.csv"
    assert keep_log_before_resume(logs) is None  # nothing left to keep
    # resumed from a checkpoint at step 6: the new file logs steps 6.. again
    (logs / "metrics.csv").write_text(HEADER + "".join(f"1,,{s},2.0,,," + "\n" for s in range(6, 12)))
    log = read_training_log(tmp_path / "run")
    steps, loss = log.series("train/loss")
    assert steps.tolist() == list(range(12)) and loss.tolist() == [1.0] * 6 + [2.0] * 6
    assert keep_log_before_resume(logs) == logs / "metrics.part-2.csv"
    assert [p.name for p in find_metric_files(logs)] == ["metrics.part-1.csv", "metrics.part-2.csv"]
    assert drop_log_parts(logs) and not list(logs.glob("metrics*.csv"))


def test_version_folders_are_read_in_order(tmp_path: Path) -> None:
    for v, (a, b) in enumerate([(0, 5), (5, 9)]):
        folder = tmp_path / "logs" / f"version_{v}"
        folder.mkdir(parents=True)
        (folder / "metrics.csv").write_text(HEADER + "".join(f"0,,{s},{v},,," + "\n" for s in range(a, b)))
    log = read_training_log(tmp_path)
    assert log.series("train/loss")[1].tolist() == [0.0] * 5 + [1.0] * 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty, it holds no rows yet"),
        (HEADER, "holds no rows yet"),
        ("epoch,step,foo\n0,1,2\n", "none of the columns train/loss"),
        ("epoch,train/loss\n0,1\n", "no 'step' column"),
        (HEADER + "0,,1,abc,,,\n", "line 2: column 'train/loss' holds 'abc'; expected a number"),
        (HEADER + "0,,1,1,1,1,1,9\n", "line 2: more values than the 7 columns"),
    ],
)
def test_bad_logs_are_named_with_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    csv = tmp_path / "metrics.csv"
    csv.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        plot_training_curves(csv, tmp_path / "c.png")
    assert str(csv) in str(err.value)
    assert not (tmp_path / "c.png").exists()


def test_missing_logs_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such file or folder"):
        read_training_log(tmp_path / "nope")
    with pytest.raises(ValueError, match="no metrics.csv found"):
        read_training_log(tmp_path)


def test_after_training_a_plot_failure_is_a_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    assert plot_run_curves(tmp_path, warnings.append) is None  # what `rleseg train` calls at the end
    assert len(warnings) == 1 and "could not plot the training curves" in warnings[0] and str(tmp_path) in warnings[0]
    shutil.copytree(TINY_RUN / "logs", tmp_path / "logs")
    assert plot_run_curves(tmp_path, warnings.append) == tmp_path / "curves.png" and len(warnings) == 1


def test_smoothing_is_bias_corrected() -> None:
    assert smooth(np.array([4.0, 4.0, 4.0])).tolist() == pytest.approx([4.0, 4.0, 4.0])
    s = smooth(np.array([0.0, 10.0]), 0.5)
    assert s[0] == 0.0 and math.isclose(s[1], 10 * 0.5 / 0.75)
