"""``rleseg evaluate --pred DIR --gt DIR --out DIR``: perfect predictions, a case worked by hand, every bad input
reported by file while the rest is scored (in the HTML report too), and a missing checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from rleseg.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "250"}

# The example of tests/metrics/test_panoptic.py: classes 1 "cell" and 2 "dish".
#   GT class   GT inst      pred class  pred inst
#   1 1 0 0    1 1 0 0      1 1 1 0     1 1 1 0
#   1 1 0 1    1 1 0 2      1 1 0 0     1 1 0 0
#   0 0 0 1    0 0 0 2      0 0 1 1     0 0 3 3
#   2 2 2 2    0 0 0 0      2 2 2 0     0 0 0 0
GT = np.array([[1, 1, 0, 0], [1, 1, 0, 1], [0, 0, 0, 1], [2, 2, 2, 2]])
GT_INST = np.array([[1, 1, 0, 0], [1, 1, 0, 2], [0, 0, 0, 2], [0, 0, 0, 0]])
PRED = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1], [2, 2, 2, 0]])
PRED_INST = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [0, 0, 3, 3], [0, 0, 0, 0]])


def write_masks(root: Path, name: str, mask: np.ndarray, instances: np.ndarray | None = None) -> None:
    """``root/masks/<name>.png`` (8-bit) and ``root/instances/<name>.png`` (16-bit) when given."""
    (root / "masks").mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask.astype(np.uint8)).save(root / "masks" / f"{name}.png")
    if instances is not None:
        (root / "instances").mkdir(parents=True, exist_ok=True)
        Image.fromarray(instances.astype(np.uint16)).save(root / "instances" / f"{name}.png")


def run(*args: str | Path) -> tuple[int, str]:
    res = runner.invoke(app, ["evaluate", *map(str, args)], env=WIDE)
    return res.exit_code, res.output


def test_perfect_predictions_score_one_everywhere(tmp_path: Path) -> None:
    gt, pred, out = tmp_path / "gt", tmp_path / "pred", tmp_path / "out"
    for i in range(2):
        write_masks(gt, f"img_{i}", np.roll(GT, i, axis=1), np.roll(GT_INST, i, axis=1))
        write_masks(pred, f"img_{i}", np.roll(GT, i, axis=1), 5 * np.roll(GT_INST, i, axis=1))  # other ids
    (gt / "classes.txt").write_text("background\ncell\ndish\n")
    code, output = run("--pred", pred, "--gt", gt, "--out", out)
    assert code == 0, output
    report = json.loads((out / "metrics.json").read_text())
    assert report["classes"] == ["cell", "dish"] and report["num_images"] == 2
    for row in [*report["per_class"].values(), report["mean"], report["class_agnostic"]]:
        assert set(row.values()) == {1.0}
    assert report["pix_acc"] == report["miou"] == report["fw_iu"] == 1.0
    panoptic = report["panoptic"]
    assert (panoptic["pq"], panoptic["sq"], panoptic["rq"], panoptic["num_images"]) == (1.0, 1.0, 1.0, 2)
    assert "cell" in output and "Panoptic quality" in output and "metrics.json" in output
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="metrics-table"' in page and "<th>PQ</th>" in page and page.count('<figure class="case"') == 2
    assert '<div class="panels"><span>ground truth</span><span>prediction</span></div>' in page, "no images/"


def test_imperfect_case_by_hand(tmp_path: Path) -> None:
    # Confusion matrix n[gt, pred] of the example (rows GT 0, 1, 2):
    #   GT 0 (6 px): 4 predicted 0, 2 predicted 1     -> [4, 2, 0]
    #   GT 1 (6 px): (1,3) predicted 0, 5 predicted 1 -> [1, 5, 0]
    #   GT 2 (4 px): (3,3) predicted 0, 3 predicted 2 -> [1, 0, 3]
    # t = (6, 6, 4), p = (6, 7, 3), n_ii = (4, 5, 3).
    # cell: recall 5/6, precision 5/(6+7-5) = 5/8, dice 10/13; dish: recall 3/4, precision 3/(4+3-3) = 3/4,
    # dice 6/7; pix_acc 12/16. Panoptic (worked in test_panoptic.py): cell PQ 0.4, dish PQ 0.75, mean 0.575.
    gt, pred, out = tmp_path / "gt", tmp_path / "pred", tmp_path / "out"
    write_masks(gt, "a", GT, GT_INST)
    write_masks(pred, "a", PRED, PRED_INST)
    names = tmp_path / "names.txt"
    names.write_text("bg\ncell\ndish\n")
    code, output = run("--pred", pred, "--gt", gt, "--out", out, "--classes", names)
    assert code == 0, output
    r = json.loads((out / "metrics.json").read_text())
    expected = {
        "cell": {"recall": 5 / 6, "precision": 5 / 8, "dice": 10 / 13},
        "dish": {"recall": 3 / 4, "precision": 3 / 4, "dice": 6 / 7},
    }
    for name, row in expected.items():
        assert r["per_class"][name] == pytest.approx(row)
    assert r["pix_acc"] == pytest.approx(0.75) and r["num_images"] == 1
    assert r["mean"]["precision"] == pytest.approx((5 / 8 + 3 / 4) / 2)
    p = r["panoptic"]
    assert (p["pq"], p["sq"], p["rq"]) == pytest.approx((0.575, 0.775, 0.75))
    assert p["per_class"]["cell"] == pytest.approx({"pq": 0.4, "sq": 0.8, "rq": 0.5})
    assert "62.50" in output and "57.50" in output  # cell precision and mean PQ in the printed tables


def test_numbered_classes_and_instances_on_one_side_only(tmp_path: Path) -> None:
    gt, pred, out = tmp_path / "gt", tmp_path / "pred", tmp_path / "out"
    write_masks(gt, "a", GT, GT_INST)  # no classes.txt; instances only in the ground truth
    write_masks(pred, "a", np.where(PRED == 2, 3, PRED))  # class 3 predicted, never in the ground truth
    code, output = run("--pred", pred, "--gt", gt, "--out", out)
    assert code == 0, output
    r = json.loads((out / "metrics.json").read_text())
    assert r["classes"] == ["class_1", "class_2", "class_3"] and "panoptic" not in r
    assert r["per_class"]["class_3"]["precision"] == 0.0
    assert "no panoptic quality" in output and str(pred / "instances") in output


def test_bad_inputs_are_reported_by_file_and_the_rest_is_scored(tmp_path: Path) -> None:
    gt, pred, out = tmp_path / "gt", tmp_path / "pred", tmp_path / "out"
    (gt / "instances").mkdir(parents=True)
    (gt / "classes.txt").write_text("background\ncell\ndish\n")
    for name in ("good_1", "good_2"):
        write_masks(gt, name, GT, GT_INST)
        write_masks(pred, name, PRED, PRED_INST)
    write_masks(gt, "no_pred", GT, GT_INST)
    write_masks(pred, "no_gt", PRED, PRED_INST)
    write_masks(gt, "size", GT, GT_INST)
    write_masks(pred, "size", PRED[:3], PRED_INST[:3])
    write_masks(gt, "class_id", GT, GT_INST)
    write_masks(pred, "class_id", np.where(PRED == 2, 5, PRED), PRED_INST)
    write_masks(gt, "unreadable", GT, GT_INST)
    write_masks(pred, "unreadable", PRED, PRED_INST)
    (pred / "masks" / "unreadable.png").write_bytes(b"not a png")
    write_masks(gt, "no_inst", GT, GT_INST)
    write_masks(pred, "no_inst", PRED)  # masks/ only
    code, output = run("--pred", pred, "--gt", gt, "--out", out)
    assert code == 1
    lines = output.splitlines()
    expected = {
        gt / "masks" / "no_pred.png": "no prediction",
        pred / "masks" / "no_gt.png": "no ground truth",
        pred / "masks" / "size.png": "3x4",
        pred / "instances" / "size.png": "3x4",
        pred / "masks" / "class_id.png": "class id 5",
        pred / "masks" / "unreadable.png": "cannot read",
        pred / "instances" / "no_inst.png": "not found",
    }
    for path, what in expected.items():
        assert any(line.startswith(str(path)) and what in line for line in lines), (path, output)
    assert "7 problem(s)" in output
    r = json.loads((out / "metrics.json").read_text())
    assert r["num_images"] == 2 and r["panoptic"]["num_images"] == 2
    assert r["per_class"]["cell"]["precision"] == pytest.approx(5 / 8)  # the two good pairs, as by hand
    page = (out / "report.html").read_text(encoding="utf-8")
    assert all(str(path) in page for path in expected), "every problem is listed in the report"
    assert page.count('<figure class="case"') == 2


def test_missing_folders_options_and_checkpoint_form(tmp_path: Path) -> None:
    gt, out = tmp_path / "gt", tmp_path / "out"
    write_masks(gt, "a", GT)
    code, output = run("--pred", tmp_path / "nope", "--gt", gt, "--out", out)
    assert code == 1 and str(tmp_path / "nope" / "masks") in output and "folder not found" in output
    code, output = run("--gt", gt, "--out", out)
    assert code == 2 and "--pred" in output
    code, output = run(tmp_path / "model.ckpt", gt, "--out", out)
    assert code == 1 and f"checkpoint {tmp_path / 'model.ckpt'} does not exist" in output
    code, output = run("--pred", gt, "--gt", gt, "--out", out, "--classes", tmp_path / "none.txt")
    assert code == 1 and "class list not found" in output
    assert not (out / "metrics.json").exists()
