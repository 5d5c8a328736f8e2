"""The metrics.json report: a 4x4 example worked by hand, undefined values, and the atomic JSON writer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rleseg.metrics import (
    REPORT_KEYS,
    AreaFractionError,
    ConfusionMatrix,
    SegmentationEvaluator,
    metrics_report,
    write_metrics_json,
)

# 4x4 pair, background 0 and foreground classes 1 ("ipsc") and 2 ("dfc"):
#   GT             pred
#   0 0 1 1        0 1 1 1
#   0 0 1 1        0 1 1 1
#   2 2 0 0        2 0 0 0
#   2 0 0 0        0 0 0 0
# Confusion matrix n[gt, pred]:
#   GT 0 (9 px): 7 predicted 0, 2 predicted 1      -> [7, 2, 0]
#   GT 1 (4 px): all predicted 1                   -> [0, 4, 0]
#   GT 2 (3 px): (2,0) predicted 2, the others 0   -> [2, 0, 1]
# t = (9, 4, 3) (row sums), p = (9, 6, 1) (column sums), n_ii = (7, 4, 1), 16 pixels.
GT = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 0, 0], [2, 0, 0, 0]])
PRED = np.array([[0, 1, 1, 1], [0, 1, 1, 1], [2, 0, 0, 0], [0, 0, 0, 0]])
CM = np.array([[7, 2, 0], [0, 4, 0], [2, 0, 1]])
NAMES = ["ipsc", "dfc"]

EXPECTED = {
    "classes": ["ipsc", "dfc"],
    "per_class": {
        # recall n_ii/t_i, precision n_ii/(t_i + p_i - n_ii), dice 2 n_ii/(t_i + p_i)
        "ipsc": {"recall": 4 / 4, "precision": 4 / (4 + 6 - 4), "dice": 8 / (4 + 6)},  # 1, 2/3, 0.8
        "dfc": {"recall": 1 / 3, "precision": 1 / (3 + 1 - 1), "dice": 2 / (3 + 1)},  # 1/3, 1/3, 0.5
    },
    # plain means over the 2 foreground classes
    "mean": {"recall": (1 + 1 / 3) / 2, "precision": (2 / 3 + 1 / 3) / 2, "dice": (0.8 + 0.5) / 2},
    # weights t_1 = 4, t_2 = 3: recall (4*1 + 3*1/3)/7 = 5/7, precision (4*2/3 + 3*1/3)/7 = 11/21
    "frequency_weighted": {"recall": 5 / 7, "precision": 11 / 21},
    # foreground merged: n_ff = 4 + 1 = 5, t_f = 7, p_f = 7 -> recall 5/7, precision 5/(7+7-5) = 5/9,
    # dice 10/14 = 5/7
    "class_agnostic": {"recall": 5 / 7, "precision": 5 / 9, "dice": 10 / 14},
    "pix_acc": (7 + 4 + 1) / 16,  # 0.75
    # background IoU 7/(9+9-7) = 7/11; fw_iu = (9*7/11 + 4*2/3 + 3*1/3)/16 = (310/33)/16 = 155/264
    "fw_iu": (9 * 7 / 11 + 4 * 2 / 3 + 3 * 1 / 3) / 16,
    "miou": (7 / 11 + 2 / 3 + 1 / 3) / 3,  # = 6/11
    # area fractions: ipsc 6/16 vs 4/16 -> 1/8; dfc 1/16 vs 3/16 -> 1/8; all 7/16 vs 7/16 -> 0
    "area_fraction_error": {
        "ipsc": {"mean": 1 / 8, "median": 1 / 8},
        "dfc": {"mean": 1 / 8, "median": 1 / 8},
        "all": {"mean": 0.0, "median": 0.0},
    },
    "num_images": 1,
    # the matrix above, rows truth and columns prediction, labelled
    "confusion_matrix": {"labels": ["background", "ipsc", "dfc"], "pixels": [[7, 2, 0], [0, 4, 0], [2, 0, 1]]},
}


def assert_close(ours: object, expected: object) -> None:
    """Nested dicts/lists equal, floats to 1e-12, None only where None is expected."""
    if isinstance(expected, dict):
        assert isinstance(ours, dict) and list(ours) == list(expected)
        for k in expected:
            assert_close(ours[k], expected[k])
    elif isinstance(expected, float):
        assert ours == pytest.approx(expected, rel=1e-12, abs=1e-12)
    else:
        assert ours == expected and type(ours) is type(expected)


def test_report_by_hand() -> None:
    ev = SegmentationEvaluator(NAMES)
    ev.update(GT, PRED)
    np.testing.assert_array_equal(ev.cm.matrix, CM)
    report = ev.report()
    assert tuple(report) == REPORT_KEYS
    assert_close(report, EXPECTED)
    assert report["fw_iu"] == pytest.approx(155 / 264) and report["miou"] == pytest.approx(6 / 11)
    # the same from the parts
    area = AreaFractionError(2)
    area.update(GT, PRED)
    assert metrics_report(CM, NAMES, area) == report
    cm = ConfusionMatrix(2)
    cm.update(GT, PRED)
    assert metrics_report(cm, NAMES, area) == report


def test_accumulates_images_and_clips() -> None:
    ev = SegmentationEvaluator(NAMES)
    ev.update(GT, PRED)
    ev.update(np.stack([GT, GT]), np.stack([PRED, GT]))  # a 2-frame clip: one wrong frame, one perfect
    r = ev.report()
    assert r["num_images"] == 3
    np.testing.assert_array_equal(ev.cm.matrix, 2 * CM + np.diag([9, 4, 3]))
    # per image: (1/8, 1/8, 0) for each class -> mean 1/12, median 1/8
    assert r["area_fraction_error"]["ipsc"] == pytest.approx({"mean": 1 / 12, "median": 1 / 8})
    other = SegmentationEvaluator(NAMES)
    other.update(GT, PRED)
    ev.merge(other)
    assert ev.report()["num_images"] == 4
    ev.reset()
    assert ev.report()["num_images"] == 0
    with pytest.raises(ValueError, match="merge"):
        ev.merge(SegmentationEvaluator(["a", "b"]))


def test_undefined_values_are_none() -> None:
    r = SegmentationEvaluator(NAMES).report()  # nothing seen
    assert r["classes"] == NAMES and r["num_images"] == 0
    assert r["per_class"]["dfc"] == {"recall": None, "precision": None, "dice": None}
    assert r["mean"] == {"recall": None, "precision": None, "dice": None}
    assert r["pix_acc"] is None and r["area_fraction_error"]["all"] == {"mean": None, "median": None}
    # a class in neither GT nor prediction has no score and is left out of the means
    ev = SegmentationEvaluator(["ipsc", "dfc", "absent"])
    ev.update(GT, PRED)
    r = ev.report()
    assert r["per_class"]["absent"] == {"recall": None, "precision": None, "dice": None}
    assert_close(r["mean"], EXPECTED["mean"])
    assert r["area_fraction_error"]["absent"] == {"mean": 0.0, "median": 0.0}
    # without area errors: the keys are there, the area statistics and the image count are None
    r = metrics_report(CM, NAMES)
    assert tuple(r) == REPORT_KEYS and r["num_images"] is None
    assert r["area_fraction_error"]["ipsc"] == {"mean": None, "median": None}
    assert metrics_report(CM, NAMES, num_images=5)["num_images"] == 5


def test_bad_names() -> None:
    with pytest.raises(ValueError, match="3 class names"):
        metrics_report(CM, ["a", "b", "c"])
    with pytest.raises(ValueError, match="unique"):
        SegmentationEvaluator(["a", "a"])
    with pytest.raises(ValueError, match="named 'all'"):
        SegmentationEvaluator(["all", "b"])
    with pytest.raises(ValueError, match="of 3 classes"):
        metrics_report(CM, NAMES, AreaFractionError(3))
    ev = SegmentationEvaluator(NAMES)
    with pytest.raises(ValueError, match="prediction holds label 3"):
        ev.update(GT, PRED + 1)
    assert ev.cm.matrix.sum() == 0 and ev.area.num_images == 0  # a rejected pair adds to neither


def test_json_round_trip(tmp_path: Path) -> None:
    ev = SegmentationEvaluator(NAMES)
    ev.update(GT, PRED)
    path = tmp_path / "run" / "eval" / "metrics.json"  # folders created
    assert ev.write(path) == path
    text = path.read_text()
    assert text.startswith('{\n  "classes"') and text.endswith("}\n")  # pretty-printed
    loaded = json.loads(text)
    assert list(loaded) == list(REPORT_KEYS)
    assert loaded == ev.report()
    assert set(loaded["per_class"]["ipsc"]) == {"recall", "precision", "dice"}
    assert set(loaded["frequency_weighted"]) == {"recall", "precision"}
    assert set(loaded["area_fraction_error"]) == {"ipsc", "dfc", "all"}
    # None stays null; NaN and numpy scalars are written as plain JSON
    empty = SegmentationEvaluator(NAMES)
    empty.write(path)  # replaces the old file
    assert json.loads(path.read_text()) == empty.report()
    write_metrics_json({"a": float("nan"), "b": np.float32(0.5), "c": np.int64(3), "d": (1, 2)}, path)
    assert json.loads(path.read_text()) == {"a": None, "b": 0.5, "c": 3, "d": [1, 2]}
    assert sorted(p.name for p in path.parent.iterdir()) == ["metrics.json"]  # no temp file left


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    write_metrics_json({"ok": 1}, path)
    with pytest.raises(TypeError):
        write_metrics_json({"bad": object()}, path)
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
