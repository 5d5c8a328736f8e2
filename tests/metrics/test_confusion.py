"""Confusion-matrix metrics: hand-worked examples, the missing-class conventions, and torchmetrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rleseg.metrics import (
    ConfusionMatrix,
    class_agnostic,
    confusion_matrix,
    fw_iu,
    fw_precision,
    fw_recall,
    mean_dice,
    mean_precision,
    mean_recall,
    miou,
    per_class_dice,
    per_class_precision,
    per_class_recall,
    pix_acc,
    segmentation_metrics,
)

# 8 pixels, worked by hand:      n = [[2, 1, 0],      t = (3, 3, 2)   p = (3, 4, 1)   n_ii = (2, 2, 1)
#                                     [1, 2, 0],
#                                     [0, 1, 1]]
GT = np.array([[0, 0, 1, 1], [0, 2, 2, 1]])
PRED = np.array([[0, 1, 1, 1], [0, 2, 1, 0]])
CM = np.array([[2, 1, 0], [1, 2, 0], [0, 1, 1]])


def test_confusion_matrix_by_hand() -> None:
    assert confusion_matrix(GT, PRED, 2).tolist() == CM.tolist()
    assert confusion_matrix(GT, PRED, 2).dtype == np.int64


def test_per_class_scores_by_hand() -> None:
    np.testing.assert_allclose(per_class_recall(CM), [2 / 3, 2 / 3, 1 / 2])
    np.testing.assert_allclose(per_class_precision(CM), [2 / 4, 2 / 5, 1 / 2])  # n_ii / (t_i + p_i - n_ii)
    np.testing.assert_allclose(per_class_dice(CM), [4 / 6, 4 / 7, 2 / 3])


def test_means_by_hand() -> None:
    assert mean_recall(CM) == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert mean_precision(CM) == pytest.approx((2 / 5 + 1 / 2) / 2)
    assert mean_dice(CM) == pytest.approx((4 / 7 + 2 / 3) / 2)
    assert fw_recall(CM) == pytest.approx((3 * 2 / 3 + 2 * 1 / 2) / 5)
    assert fw_precision(CM) == pytest.approx((3 * 2 / 5 + 2 * 1 / 2) / 5)
    assert pix_acc(CM) == pytest.approx(5 / 8)
    assert fw_iu(CM) == pytest.approx((3 * 0.5 + 3 * 0.4 + 2 * 0.5) / 8)
    assert miou(CM) == pytest.approx((0.5 + 0.4 + 0.5) / 3)


def test_class_agnostic_by_hand() -> None:
    agn = class_agnostic(CM)
    assert agn.tolist() == [[2, 1], [1, 4]]
    m = segmentation_metrics(CM, ["ipsc", "dif"])
    assert m["agnostic"] == pytest.approx({"recall": 4 / 5, "precision": 4 / 6, "dice": 8 / 10})
    assert set(m["per_class"]) == {"ipsc", "dif"}
    assert m["per_class"]["dif"]["recall"] == pytest.approx(0.5)


def test_accumulator_sums_updates() -> None:
    acc = ConfusionMatrix(2)
    acc.update(GT, PRED)
    acc.update(GT[None], PRED[None])  # any shape, e.g. a video
    np.testing.assert_array_equal(acc.matrix, 2 * CM)
    other = ConfusionMatrix(2)
    other.update(GT, PRED)
    acc.merge(other)
    np.testing.assert_array_equal(acc.matrix, 3 * CM)
    # scale invariance: every metric of 3 * CM equals that of CM
    ours, ref = acc.compute(), segmentation_metrics(CM)
    for key in ("pix_acc", "fw_iu", "miou", "recall", "precision", "dice", "fw_recall", "fw_precision"):
        assert ours[key] == pytest.approx(ref[key])
    assert ours["agnostic"] == pytest.approx(ref["agnostic"])
    acc.reset()
    assert acc.matrix.sum() == 0


def test_absent_classes_are_excluded_from_means() -> None:
    # class 3 appears nowhere: NaN per class and left out of means; class 2 is predicted but not in the
    # ground truth: recall 0, precision 0, dice 0, and it counts.
    gt = np.array([0, 1, 1, 1])
    pred = np.array([2, 1, 1, 0])
    cm = confusion_matrix(gt, pred, 3)
    rec = per_class_recall(cm)
    assert math.isnan(rec[3]) and rec[2] == 0.0
    assert mean_recall(cm) == pytest.approx((2 / 3 + 0) / 2)
    assert mean_precision(cm) == pytest.approx((2 / 3 + 0) / 2)
    m = segmentation_metrics(cm)
    assert m["per_class"]["3"] == {"recall": None, "precision": None, "dice": None}


def test_empty_and_perfect() -> None:
    bg = np.zeros((4, 4), dtype=np.uint8)
    m = segmentation_metrics(confusion_matrix(bg, bg, 2))
    assert m["recall"] is None and m["fw_recall"] is None and m["pix_acc"] == 1.0
    mask = np.array([[0, 1], [2, 2]])
    m = segmentation_metrics(confusion_matrix(mask, mask, 2))
    for key in ("pix_acc", "fw_iu", "miou", "recall", "precision", "dice", "fw_recall", "fw_precision"):
        assert m[key] == 1.0


def test_ignore_index_and_bad_labels() -> None:
    gt = np.array([0, 1, 255, 1])
    pred = np.array([0, 1, 7, 0])  # the 7 sits on an ignored pixel
    assert confusion_matrix(gt, pred, 1, ignore_index=255).tolist() == [[1, 0], [1, 1]]
    with pytest.raises(ValueError, match="ground truth holds label 255"):
        confusion_matrix(gt, pred, 1)
    with pytest.raises(ValueError, match="prediction holds label 3"):
        confusion_matrix(np.array([0, 1]), np.array([0, 3]), 2)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(np.zeros(3, int), np.zeros(4, int), 1)


def test_against_torchmetrics() -> None:
    torch = pytest.importorskip("torch")
    tmc = pytest.importorskip("torchmetrics.classification")
    rng = np.random.default_rng(0)
    k = 4
    for trial in range(5):
        gt = rng.integers(0, k, size=(3, 17, 19))
        pred = np.where(rng.random(gt.shape) < 0.6, gt, rng.integers(0, k, size=gt.shape))
        if trial == 0:
            pred[pred == 3] = 0  # a class that is only in the ground truth
            gt[gt == 2] = 1  # and one only in the prediction
        cm = confusion_matrix(gt, pred, k - 1)
        g, p = torch.from_numpy(gt.reshape(-1)), torch.from_numpy(pred.reshape(-1))
        tm_cm = tmc.MulticlassConfusionMatrix(num_classes=k)(p, g).numpy()
        np.testing.assert_array_equal(cm, tm_cm)
        present = (cm.sum(0) + cm.sum(1)) > 0
        for ours, theirs in (
            (per_class_recall(cm), tmc.MulticlassRecall(num_classes=k, average=None)),
            (per_class_precision(cm), tmc.MulticlassJaccardIndex(num_classes=k, average=None)),
            (per_class_dice(cm), tmc.MulticlassF1Score(num_classes=k, average=None)),
        ):
            np.testing.assert_allclose(ours[present], theirs(p, g).numpy()[present], rtol=1e-5)
        acc = tmc.MulticlassAccuracy(num_classes=k, average="micro")(p, g).item()
        assert pix_acc(cm) == pytest.approx(acc, rel=1e-6)
        tm_miou = tmc.MulticlassJaccardIndex(num_classes=k, average="macro")(p, g).item()
        assert miou(cm) == pytest.approx(tm_miou, rel=1e-5)
