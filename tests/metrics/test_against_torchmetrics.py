"""Every number of the metrics.json report against an independent computation with torchmetrics.

Random multi-class masks (background 0, foreground 1..C) of several images of different sizes, some given
as clips, are accumulated by :class:`SegmentationEvaluator`; torchmetrics sees all their pixels at once.

How the torchmetrics calls map onto the report (C foreground classes, ``num_classes=C + 1`` for torchmetrics):

- confusion matrix: ``multiclass_confusion_matrix(pred, gt)`` is our ``n[gt, pred]``.
- ``per_class[c]["dice"]``: ``segmentation.dice_score(pred, gt, input_format="index", average="none",
  include_background=False, aggregation_level="global")`` gives a ``(1, C)`` row, the Dice of labels 1..C over
  every pixel of every image (global: counts summed before dividing, as our accumulated confusion matrix;
  "samplewise" would average per-image Dice instead). ``include_background=False`` drops label 0, as the
  report does. A class in neither GT nor prediction is NaN there and None here.
- ``mean["dice"]``: the same call with ``average="macro"``, which also skips NaN classes.
- ``per_class[c]["precision"]``: the paper's precision is the IoU, ``multiclass_jaccard_index(average=None)``;
  torchmetrics scores a class in neither mask 0 where we give None, so compare classes that are present.
- ``per_class[c]["recall"]``: ``multiclass_recall(average=None)``.
- ``mean`` recall/precision: plain mean of those torchmetrics values over present foreground classes;
  ``frequency_weighted``: weighted by the GT pixel counts ``t_c`` (row sums of torchmetrics' confusion
  matrix). torchmetrics has no foreground-only weighted average (``ignore_index=0`` would drop the pixels of
  GT background and with them the foreground false positives there).
- ``pix_acc``: ``multiclass_accuracy(average="micro")``; ``miou``: ``multiclass_jaccard_index(average="macro")``
  (background included, absent classes skipped); ``fw_iu``: ``multiclass_jaccard_index(average="weighted")``.
- ``class_agnostic``: ``binary_recall``, ``binary_jaccard_index`` and ``binary_f1_score`` (F1 = Dice) of
  ``gt > 0`` vs ``pred > 0``.
- ``area_fraction_error``: per-image class fractions from ``one_hot(...).mean``, then
  ``mean_absolute_error`` and ``torch.quantile(q=0.5)`` (the interpolating median, as ``np.median``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rleseg.metrics import SegmentationEvaluator

torch = pytest.importorskip("torch")
tmc = pytest.importorskip("torchmetrics.functional.classification")
tms = pytest.importorskip("torchmetrics.functional.segmentation")
tmr = pytest.importorskip("torchmetrics.functional.regression")

C = 4  # foreground classes 1..4; label 4 is never drawn, so one class is absent from both masks
K = C + 1
NAMES = ["a", "b", "c", "d"]


def _random_images(rng: np.random.Generator, trial: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(gt, pred) pairs: two single images and one 3-frame clip, labels 0..3."""
    pairs = []
    for shape in ((13, 17), (9, 21), (3, 8, 11)):
        gt = rng.integers(0, 4, size=shape)
        pred = np.where(rng.random(shape) < 0.6, gt, rng.integers(0, 4, size=shape))
        if trial == 1:
            gt[gt == 3] = 1  # class 3 only in the prediction
        if trial == 2:
            pred[pred == 2] = 0  # class 2 only in the ground truth
        pairs.append((gt, pred))
    return pairs


# per-class Dice over all pixels of all images, background dropped (see the module docstring)
DICE_KW = {"num_classes": K, "include_background": False, "input_format": "index", "aggregation_level": "global"}


@pytest.mark.parametrize("trial", [0, 1, 2])
def test_report_against_torchmetrics(trial: int) -> None:
    rng = np.random.default_rng(trial)
    pairs = _random_images(rng, trial)
    ev = SegmentationEvaluator(NAMES)
    for gt, pred in pairs:
        ev.update(gt, pred)
    r = ev.report()

    g = torch.from_numpy(np.concatenate([gt.reshape(-1) for gt, _ in pairs]))
    p = torch.from_numpy(np.concatenate([pred.reshape(-1) for _, pred in pairs]))

    tm_cm = tmc.multiclass_confusion_matrix(p, g, num_classes=K).numpy()
    np.testing.assert_array_equal(ev.cm.matrix, tm_cm)
    t = tm_cm.sum(axis=1).astype(float)  # GT pixels per class
    present = (tm_cm.sum(axis=0) + tm_cm.sum(axis=1)) > 0
    assert not present[4] and present[:4].all()

    dice = tms.dice_score(p[None], g[None], average="none", **DICE_KW)[0].numpy()  # (C,): labels 1..C
    iou = tmc.multiclass_jaccard_index(p, g, num_classes=K, average=None).numpy()
    rec = tmc.multiclass_recall(p, g, num_classes=K, average=None).numpy()
    for c, name in enumerate(NAMES, start=1):
        ours = r["per_class"][name]
        if present[c]:
            assert ours == pytest.approx({"recall": rec[c], "precision": iou[c], "dice": dice[c - 1]}, rel=1e-6)
        else:
            assert ours == {"recall": None, "precision": None, "dice": None}
            assert math.isnan(dice[c - 1])

    fg = np.flatnonzero(present[1:]) + 1
    mean_dice = tms.dice_score(p[None], g[None], average="macro", **DICE_KW).item()
    assert r["mean"] == pytest.approx(
        {"recall": rec[fg].mean(), "precision": iou[fg].mean(), "dice": mean_dice}, rel=1e-6
    )
    w = t[1:]
    assert r["frequency_weighted"] == pytest.approx(
        {"recall": (w * rec[1:]).sum() / w.sum(), "precision": (w * iou[1:]).sum() / w.sum()}, rel=1e-6
    )

    assert r["pix_acc"] == pytest.approx(tmc.multiclass_accuracy(p, g, num_classes=K, average="micro").item())
    assert r["miou"] == pytest.approx(tmc.multiclass_jaccard_index(p, g, num_classes=K, average="macro").item())
    assert r["fw_iu"] == pytest.approx(tmc.multiclass_jaccard_index(p, g, num_classes=K, average="weighted").item())

    gb, pb = (g > 0).long(), (p > 0).long()
    assert r["class_agnostic"] == pytest.approx(
        {
            "recall": tmc.binary_recall(pb, gb).item(),
            "precision": tmc.binary_jaccard_index(pb, gb).item(),
            "dice": tmc.binary_f1_score(pb, gb).item(),
        },
        rel=1e-6,
    )

    # area-fraction errors: one row of class fractions per image (clip frames are images)
    frames = []
    for gt, pred in pairs:
        frames += list(zip(gt.reshape((-1, *gt.shape[-2:])), pred.reshape((-1, *pred.shape[-2:])), strict=True))
    assert r["num_images"] == len(frames) == 5

    def fractions(x: np.ndarray) -> torch.Tensor:
        return torch.nn.functional.one_hot(torch.from_numpy(x).reshape(-1), K).double().mean(dim=0)

    fg_frac = torch.stack([fractions(gt_f) for gt_f, _ in frames])  # (5, K)
    fp_frac = torch.stack([fractions(pred_f) for _, pred_f in frames])
    cols = {name: (fp_frac[:, c], fg_frac[:, c]) for c, name in enumerate(NAMES, start=1)}
    cols["all"] = (fp_frac[:, 1:].sum(dim=1), fg_frac[:, 1:].sum(dim=1))
    for name, (fp_c, fg_c) in cols.items():
        expected = {
            "mean": tmr.mean_absolute_error(fp_c, fg_c).item(),
            "median": torch.quantile((fp_c - fg_c).abs(), 0.5).item(),
        }
        assert r["area_fraction_error"][name] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert r["area_fraction_error"]["d"] == {"mean": 0.0, "median": 0.0}  # absent class: both fractions 0
