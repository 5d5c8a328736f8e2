"""Panoptic quality: small examples worked by hand, void and clip conventions, the evaluator's "panoptic" section,
and parity with torchmetrics' ``PanopticQuality`` on random multi-instance examples.

torchmetrics takes ``(B, *spatial, 2)`` tensors of ``(category_id, instance_id)`` pairs and matches per sample
(batch entry). Our background (class 0) is one torchmetrics *stuff* category that we leave out of the scores;
our foreground classes are its things, except the ones we pass as ``stuff_classes`` (stuffs there: their
instance ids are ignored). Void: a ground-truth category outside things and stuffs (our ``ignore_index``).
"""

from __future__ import annotations

import numpy as np
import pytest

from rleseg.metrics import PanopticQuality, SegmentationEvaluator, panoptic_stats

# ----- by hand ------------------------------------------------------------------------------------------
# Two classes: 1 "cell" (instances), 2 "dish" (instance 0: one stuff segment per image).
#   GT class   GT inst      pred class  pred inst
#   1 1 0 0    1 1 0 0      1 1 1 0     1 1 1 0
#   1 1 0 1    1 1 0 2      1 1 0 0     1 1 0 0
#   0 0 0 1    0 0 0 2      0 0 1 1     0 0 3 3
#   2 2 2 2    0 0 0 0      2 2 2 0     0 0 0 0
# GT segments: (1,1) 4 px, (1,2) 2 px, (2,0) 4 px. Pred segments: (1,1) 5 px, (1,3) 2 px, (2,0) 3 px.
# (1,1)-(1,1): intersection 4, union 5 + 4 - 4 = 5, IoU 0.8 > 0.5 -> TP.
# (1,3)-(1,2): intersection 1 (row 2, col 3), union 2 + 2 - 1 = 3, IoU 1/3 -> pred (1,3) FP, GT (1,2) FN.
# (2,0)-(2,0): intersection 3, union 3 + 4 - 3 = 4, IoU 0.75 -> TP.
# cell: TP 1, FP 1, FN 1: SQ 0.8, RQ 1 / (1 + 0.5 + 0.5) = 0.5, PQ 0.4.   dish: SQ 0.75, RQ 1, PQ 0.75.
# overall: PQ (0.4 + 0.75) / 2 = 0.575, SQ (0.8 + 0.75) / 2 = 0.775, RQ (0.5 + 1) / 2 = 0.75.
GT = np.array([[1, 1, 0, 0], [1, 1, 0, 1], [0, 0, 0, 1], [2, 2, 2, 2]])
GT_INST = np.array([[1, 1, 0, 0], [1, 1, 0, 2], [0, 0, 0, 2], [0, 0, 0, 0]])
PRED = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1], [2, 2, 2, 0]])
PRED_INST = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [0, 0, 3, 3], [0, 0, 0, 0]])
EXPECTED = {
    "pq": 0.575,
    "sq": 0.775,
    "rq": 0.75,
    "per_class": {"cell": {"pq": 0.4, "sq": 0.8, "rq": 0.5}, "dish": {"pq": 0.75, "sq": 0.75, "rq": 1.0}},
}


def assert_scores(ours: dict, expected: dict) -> None:
    assert set(ours) >= set(expected)
    for key, value in expected.items():
        if isinstance(value, dict):
            assert_scores(ours[key], value)
        elif value is None:
            assert ours[key] is None, key
        else:
            assert ours[key] == pytest.approx(value, abs=1e-12), key


def test_worked_example() -> None:
    pq = PanopticQuality(2)
    pq.update(GT, GT_INST, PRED, PRED_INST)
    assert_scores(pq.compute(["cell", "dish"]), EXPECTED)
    assert pq.stats.tp.tolist() == [0, 1, 1] and pq.stats.fp.tolist() == [0, 1, 0]
    assert pq.stats.fn.tolist() == [0, 1, 0] and pq.num_images == 1


def test_perfect_prediction_and_instance_ids_do_not_matter() -> None:
    pq = PanopticQuality(2)
    renumbered = np.where(GT_INST > 0, 7 - GT_INST, 0)  # same segments, other ids
    pq.update(GT, GT_INST, GT, renumbered)
    assert_scores(pq.compute(), {"pq": 1.0, "sq": 1.0, "rq": 1.0})


def test_iou_of_exactly_one_half_does_not_match_and_absent_classes_are_none() -> None:
    # GT instance of 2 px, predicted instance on 1 of them: IoU 1 / 2 = 0.5, not above 0.5 -> FP 1, FN 1,
    # PQ = SQ = RQ = 0 for class 1; class 2 appears nowhere: None, and the means skip it.
    gt, pred = np.array([[1, 1, 0]]), np.array([[1, 0, 0]])
    pq = PanopticQuality(2)
    pq.update(gt, gt, pred, pred)
    expected = {"pq": 0.0, "sq": 0.0, "rq": 0.0, "per_class": {"2": {"pq": None, "sq": None, "rq": None}}}
    assert_scores(pq.compute(), expected)
    assert PanopticQuality(1).compute() == {
        "pq": None,
        "sq": None,
        "rq": None,
        "per_class": {"1": dict.fromkeys(("pq", "sq", "rq"))},
    }


def test_one_instance_id_over_two_classes_is_two_segments() -> None:
    # pred instance 1 covers a class-1 GT instance (2 px) and a class-2 GT instance (2 px), with the right
    # class on each: segments (1,1) and (2,1), both exact -> PQ 1.
    gt, gt_inst = np.array([[1, 1, 2, 2]]), np.array([[1, 1, 2, 2]])
    pq = PanopticQuality(2)
    pq.update(gt, gt_inst, gt, np.ones_like(gt))
    assert_scores(pq.compute(), {"pq": 1.0, "per_class": {"1": {"pq": 1.0}, "2": {"pq": 1.0}}})


def test_stuff_classes_ignore_instance_ids() -> None:
    # GT class 2 split into instances 1 and 2 (2 px each), predicted as one segment (instance 0) of 4 px.
    # As a thing class: IoU 2 / 4 = 0.5 with each half, no match: FP 1, FN 2, PQ 0.
    # As a stuff class: one segment each side, IoU 1, PQ 1.
    gt, gt_inst = np.full((1, 4), 2), np.array([[1, 1, 2, 2]])
    pred, pred_inst = np.full((1, 4), 2), np.zeros((1, 4), int)
    thing = PanopticQuality(2)
    thing.update(gt, gt_inst, pred, pred_inst)
    assert thing.stats.fp.tolist() == [0, 0, 1] and thing.stats.fn.tolist() == [0, 0, 2]
    assert thing.compute()["per_class"]["2"]["pq"] == 0.0
    stuff = PanopticQuality(2, stuff_classes=[2])
    stuff.update(gt, gt_inst, pred, pred_inst)
    assert stuff.compute()["per_class"]["2"] == {"pq": 1.0, "sq": 1.0, "rq": 1.0}
    with pytest.raises(ValueError, match="stuff class 3"):
        PanopticQuality(2, stuff_classes=[3])


def test_void_pixels() -> None:
    # ignore_index 255. Pred (1,1) covers 2 GT pixels of instance 1 and 2 void pixels: union = 4 - 2 void
    # + 2 - 2 = 2, IoU 1 -> TP (0.5 if void counted). Pred (1,2) has 3 px of which 2 void (2/3 > 1/2): not an FP.
    gt = np.array([[1, 1, 255, 255, 0, 255, 255]])
    gt_inst = np.array([[1, 1, 0, 0, 0, 0, 0]])
    pred, pred_inst = np.ones_like(gt), np.array([[1, 1, 1, 1, 2, 2, 2]])
    pq = PanopticQuality(1, ignore_index=255)
    pq.update(gt, gt_inst, pred, pred_inst)
    assert_scores(pq.compute(), {"pq": 1.0, "sq": 1.0, "rq": 1.0})
    # (1,2) now has 2 background pixels and 1 void pixel (1/3 <= 1/2): an FP -> PQ 1 / (1 + 0.5) = 2/3.
    gt2 = np.array([[1, 1, 255, 255, 0, 0, 255]])
    pq.reset()
    pq.update(gt2, gt_inst, pred, pred_inst)
    assert_scores(pq.compute(), {"pq": 2 / 3, "sq": 1.0, "rq": 2 / 3})
    with pytest.raises(ValueError, match="label 255"):  # no void label without ignore_index
        PanopticQuality(1).update(gt, gt_inst, pred, pred_inst)


def test_clip_is_one_volume() -> None:
    # Clip of 2 frames, one GT instance of 2 px per frame (4 voxels); the prediction loses 1 px in frame 1.
    # As one volume: intersection 3, union 4, IoU 0.75 -> PQ 0.75.
    # Frame by frame: frame 0 exact (IoU 1), frame 1 IoU 1/2 (no match: FP 1, FN 1) -> PQ 1 / 2 = 0.5.
    gt_inst = np.array([[[1, 1, 0, 0]], [[1, 1, 0, 0]]])
    pred_inst = np.array([[[1, 1, 0, 0]], [[1, 0, 0, 0]]])
    volume = PanopticQuality(1)
    volume.update(gt_inst > 0, gt_inst, pred_inst > 0, pred_inst)
    assert volume.compute()["pq"] == pytest.approx(0.75) and volume.num_images == 1
    frames = PanopticQuality(1)
    for t in range(2):
        frames.update(gt_inst[t] > 0, gt_inst[t], pred_inst[t] > 0, pred_inst[t])
    assert frames.compute()["pq"] == pytest.approx(0.5)


def test_bad_inputs_raise_and_add_nothing() -> None:
    pq = PanopticQuality(2)
    with pytest.raises(ValueError, match="one shape"):
        pq.update(GT, GT_INST, PRED, PRED_INST[:2])
    with pytest.raises(ValueError, match="prediction mask holds label 3"):
        pq.update(GT, GT_INST, PRED + 1, PRED_INST)
    with pytest.raises(ValueError, match="negative id"):
        pq.update(GT, -GT_INST, PRED, PRED_INST)
    with pytest.raises(ValueError, match="integer or bool"):
        pq.update(GT.astype(float), GT_INST, PRED, PRED_INST)
    assert pq.num_images == 0 and not pq.stats.tp.any()


def test_merge_equals_one_accumulator() -> None:
    a, b, both = PanopticQuality(2), PanopticQuality(2), PanopticQuality(2)
    a.update(GT, GT_INST, PRED, PRED_INST)
    b.update(GT, GT_INST, GT, GT_INST)
    for g, gi, p, pi in ((GT, GT_INST, PRED, PRED_INST), (GT, GT_INST, GT, GT_INST)):
        both.update(g, gi, p, pi)
    a.merge(b)
    assert a.compute() == both.compute() and a.num_images == 2
    with pytest.raises(ValueError, match="cannot merge"):
        a.merge(PanopticQuality(3))


# ----- the evaluator ------------------------------------------------------------------------------------
def test_evaluator_adds_panoptic_only_with_instances() -> None:
    ev = SegmentationEvaluator(["cell", "dish"])
    ev.update(GT, PRED)
    assert "panoptic" not in ev.report()
    ev.update(GT, PRED, GT_INST, PRED_INST)
    report = ev.report()
    assert report["num_images"] == 2 and report["panoptic"]["num_images"] == 1
    assert_scores(report["panoptic"], EXPECTED)
    with pytest.raises(ValueError):  # a bad pair adds to nothing
        ev.update(GT, PRED, GT_INST, PRED_INST[:2])
    assert ev.report()["num_images"] == 2 and ev.panoptic.num_images == 1
    # a missing instance side counts as all 0: "cell" becomes one segment per side (6 px vs 7 px,
    # intersection 5, IoU 5/8 -> TP), "dish" as before.
    ev.reset()
    ev.update(GT, PRED, gt_instances=GT_INST > 0, pred_instances=None)
    cell = ev.report()["panoptic"]["per_class"]["cell"]
    assert cell["rq"] == 1.0 and cell["sq"] == pytest.approx(5 / 8)
    assert "panoptic" not in SegmentationEvaluator(["x"]).report()


# ----- parity with torchmetrics -------------------------------------------------------------------------
def random_panoptic(rng: np.random.Generator, shape: tuple[int, ...], c: int) -> tuple[np.ndarray, np.ndarray]:
    """GT ``(mask, instances)`` of random rectangles (or boxes in clips), some with instance 0 (stuff parts)."""
    mask = np.zeros(shape, np.int64)
    inst = np.zeros(shape, np.int64)
    for k in range(1, int(rng.integers(2, 8))):
        lo = [int(rng.integers(0, s)) for s in shape]
        sl = tuple(slice(a, a + int(rng.integers(1, s // 2 + 2))) for a, s in zip(lo, shape, strict=True))
        mask[sl] = rng.integers(1, c + 1)
        inst[sl] = k if rng.random() < 0.8 else 0
    return mask, inst


def perturb(rng: np.random.Generator, mask: np.ndarray, inst: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
    """A prediction near ``(mask, instances)``: shifted, dropped, relabelled, merged, renumbered, extra segments."""
    mask, inst = mask.copy(), inst.copy()
    for k in np.unique(inst[inst > 0]):
        sel = inst == k
        r = rng.random()
        if r < 0.15:  # dropped
            mask[sel], inst[sel] = 0, 0
        elif r < 0.45:  # shifted by a pixel along one axis
            axis = int(rng.integers(0, mask.ndim))
            moved = np.roll(sel, int(rng.choice([-1, 1])), axis=axis)
            cls = mask[sel][0]
            mask[sel], inst[sel] = 0, 0
            mask[moved], inst[moved] = cls, k
        elif r < 0.55:  # wrong class
            mask[sel] = rng.integers(1, c + 1)
        elif r < 0.62:  # merged into instance 1
            inst[sel] = 1
    noise = rng.random(mask.shape) < 0.05
    mask[noise] = rng.integers(0, c + 1, size=int(noise.sum()))
    extra, extra_inst = random_panoptic(rng, mask.shape, c)
    if rng.random() < 0.5:
        keep = extra > 0
        mask[keep], inst[keep] = extra[keep], np.where(extra_inst[keep] > 0, extra_inst[keep] + 50, 0)
    ids = np.unique(inst)
    lut = np.zeros(int(ids.max()) + 1, np.int64)
    lut[ids] = np.concatenate([[0], rng.permutation(np.arange(1, ids.size) * 3)])  # smallest id (0) stays 0
    return mask, lut[inst]


def torchmetrics_pq(
    pairs: list[tuple[np.ndarray, ...]], c: int, stuff: tuple[int, ...], void: int | None
) -> tuple[dict[int, tuple[float, int, int, int]], np.ndarray]:
    """torchmetrics' per-class (iou_sum, TP, FP, FN) by our class id, and its per-class ``(C + 1, 3)`` PQ, SQ, RQ.

    ``void``: our ground-truth ignore label; torchmetrics treats it as void since it is neither thing nor stuff.
    """
    torch = pytest.importorskip("torch")
    detection = pytest.importorskip("torchmetrics.detection")
    things = set(range(1, c + 1)) - set(stuff)
    metric = detection.PanopticQuality(things=things, stuffs={0, *stuff}, return_sq_and_rq=True, return_per_class=True)
    for gt, gt_inst, pred, pred_inst in pairs:
        target = np.stack([gt, gt_inst], -1)[None]
        preds = np.stack([pred, pred_inst], -1)[None]
        metric.update(torch.from_numpy(preds), torch.from_numpy(target))
    per_class = metric.compute().double().numpy().reshape(-1, 3)
    counts = {
        cat: (
            float(metric.iou_sum[i]),
            int(metric.true_positives[i]),
            int(metric.false_positives[i]),
            int(metric.false_negatives[i]),
        )
        for cat, i in metric.cat_id_to_continuous_id.items()
    }
    order = np.array([metric.cat_id_to_continuous_id[cat] for cat in range(c + 1)])
    return counts, per_class[order]


@pytest.mark.parametrize(
    ("seed", "c", "shape", "stuff", "void"),
    [
        (0, 1, (9, 11), (), None),
        (1, 3, (8, 10), (), None),
        (2, 3, (10, 7), (2,), None),
        (3, 4, (8, 8), (1, 3), None),
        (4, 3, (9, 9), (), 255),
        (5, 2, (9, 10), (2,), 255),
        (6, 3, (3, 6, 7), (), None),  # clips: one volume each, one torchmetrics sample each
    ],
)
def test_matches_torchmetrics(
    seed: int, c: int, shape: tuple[int, ...], stuff: tuple[int, ...], void: int | None
) -> None:
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(4):
        gt, gt_inst = random_panoptic(rng, shape, c)
        pred, pred_inst = perturb(rng, gt, gt_inst, c)
        if void is not None:
            gt = np.where(rng.random(shape) < 0.15, void, gt)
        pairs.append((gt, gt_inst, pred, pred_inst))
    ours = PanopticQuality(c, stuff_classes=stuff, ignore_index=void)
    for pair in pairs:
        ours.update(*pair)
    counts, tm_per_class = torchmetrics_pq(pairs, c, stuff, void)
    s = ours.stats
    for cls in range(1, c + 1):
        iou_sum, tp, fp, fn = counts[cls]
        assert (int(s.tp[cls]), int(s.fp[cls]), int(s.fn[cls])) == (tp, fp, fn), cls
        assert s.iou_sum[cls] == pytest.approx(iou_sum, rel=1e-6)  # torchmetrics divides in float32
    assert s.tp[1:].sum() > 0 and (s.fp[1:].sum() + s.fn[1:].sum()) > 0  # the examples test something
    result = ours.compute()
    present = [cls for cls in range(1, c + 1) if sum(counts[cls][1:]) > 0]
    for cls in range(1, c + 1):
        row = result["per_class"][str(cls)]
        if cls in present:
            assert [row["pq"], row["sq"], row["rq"]] == pytest.approx(tm_per_class[cls].tolist(), rel=1e-6)
        else:
            assert row == {"pq": None, "sq": None, "rq": None}
    # torchmetrics' own mean also counts its background stuff category; ours is over foreground classes
    mean = tm_per_class[present].mean(axis=0)
    assert [result["pq"], result["sq"], result["rq"]] == pytest.approx(mean.tolist(), rel=1e-6)


def test_stats_function_matches_accumulator() -> None:
    stats = panoptic_stats(GT, GT_INST, PRED, PRED_INST, 2)
    assert stats.tp.tolist() == [0, 1, 1] and stats.iou_sum[1:] == pytest.approx([0.8, 0.75])
