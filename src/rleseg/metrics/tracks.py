"""Track consistency of video instance predictions: the share of ground-truth instances whose matched
predicted instance keeps its id from one frame to the next (a streaming model carries ids; frame-by-frame
prediction does not, except by chance). Matching is panoptic quality's: IoU above 0.5, so at most one
predicted instance matches a ground-truth one and one giant predicted instance cannot keep every track."""

from __future__ import annotations

import numpy as np


def matched_ids(gt: np.ndarray, pred: np.ndarray) -> dict[int, int]:
    """For one frame ``(H, W)`` of instance ids: each ground-truth id (> 0) that a predicted instance (> 0)
    overlaps with IoU > 0.5 -> that predicted id."""
    both = (gt > 0) & (pred > 0)
    if not both.any():
        return {}
    g_ids, g_area = np.unique(gt[gt > 0], return_counts=True)
    p_ids, p_area = np.unique(pred[pred > 0], return_counts=True)
    g_size = dict(zip(g_ids.tolist(), g_area.tolist(), strict=True))
    p_size = dict(zip(p_ids.tolist(), p_area.tolist(), strict=True))
    pairs, inter = np.unique(np.stack([gt[both], pred[both]]), axis=1, return_counts=True)
    out: dict[int, int] = {}
    for (g, p), n in zip(pairs.T.tolist(), inter.tolist(), strict=True):
        if n / (g_size[g] + p_size[p] - n) > 0.5:
            out[g] = p
    return out


def track_consistency(gt: np.ndarray, pred: np.ndarray) -> tuple[int, int]:
    """``(kept, pairs)`` over consecutive frames of instance ids ``(T, H, W)``: ``pairs`` counts the
    ground-truth instances present in both frames t and t + 1, ``kept`` those matched (IoU > 0.5) in both
    frames by predicted instances of the same id. The share is ``kept / pairs``; ValueError for arrays of
    different shapes."""
    if gt.shape != pred.shape or gt.ndim != 3:
        raise ValueError(
            f"expected ground truth and prediction of one (T, H, W) shape, got {gt.shape} and {pred.shape}"
        )
    kept = pairs = 0
    for t in range(1, gt.shape[0]):
        before, now = matched_ids(gt[t - 1], pred[t - 1]), matched_ids(gt[t], pred[t])
        present = set(np.unique(gt[t - 1][gt[t - 1] > 0]).tolist()) & set(np.unique(gt[t][gt[t] > 0]).tolist())
        pairs += len(present)
        kept += sum(1 for g in present if g in before and before[g] == now.get(g))
    return kept, pairs
