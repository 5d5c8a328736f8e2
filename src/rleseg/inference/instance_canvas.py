"""Stitching window instance ids into one full-size instance mask.

Every window numbers its instances on its own (ids 1, 2, ... mean nothing outside it), and a cell that
crosses a window border is seen, in part, by several overlapping windows. :class:`InstanceCanvas` therefore

- **matches** each new window's instances to the ids already on the canvas where the windows overlap: a new
  instance takes the id of the canvas instance it overlaps best, when the IoU of the two within the part of
  the window that earlier windows already covered exceeds ``match_iou`` (greedy, one to one, highest IoU
  first); unmatched instances get fresh ids past all earlier ones, so instances of different windows that do
  not overlap never share an id;
- **paints whole instances**: each instance paints its pixels where it ranks better than what is there; an
  instance ranks by the distance of its centroid to its window's centre, and one that touches the window's
  edge (maybe cut off) ranks after every instance that does not, so a cell comes from the window that saw it
  whole and most centrally, not from whichever window came last. Background never paints over an instance
  (a window that misses a cell does not erase it); among background pixels the nearest window centre wins.

The canvas also records, for every pasted window, which canvas id each of its own ids became
(``window_ids``): streaming video links a window's ids to tracks across frames through it
(:class:`~rleseg.inference.track_linker.TrackLinker`).
"""

from __future__ import annotations

import numpy as np

MATCH_IOU = 0.5


def centre_distance(shape: tuple[int, int]) -> np.ndarray:
    """Chebyshev distance of every pixel of a ``(h, w)`` window to its centre, float32 ``(h, w)``."""
    h, w = shape
    dy = np.abs(np.arange(h, dtype=np.float32) - (h - 1) / 2)
    dx = np.abs(np.arange(w, dtype=np.float32) - (w - 1) / 2)
    return np.maximum(dy[:, None], dx[None, :])


def match_ids(new: np.ndarray, old: np.ndarray, covered: np.ndarray, min_iou: float) -> dict[int, int]:
    """Pairs ``{new id: old id}`` of instances that are the same, from one window's ids ``new`` and the canvas
    ids ``old`` under it (same shape, any) and the mask ``covered`` of pixels earlier windows painted.

    Inside ``covered``: IoU of each (new, old) pair of ids > 0; pairs above ``min_iou`` are taken greedily,
    highest IoU first, each id at most once."""
    n, o = new[covered], old[covered]
    both = (n > 0) & (o > 0)
    if not both.any():
        return {}
    new_ids, new_area = np.unique(n[n > 0], return_counts=True)
    old_ids, old_area = np.unique(o[o > 0], return_counts=True)
    pairs, inter = np.unique(np.stack([n[both], o[both]]), axis=1, return_counts=True)
    a_new = new_area[np.searchsorted(new_ids, pairs[0])]
    a_old = old_area[np.searchsorted(old_ids, pairs[1])]
    iou = inter / (a_new + a_old - inter)
    mapping: dict[int, int] = {}
    used: set[int] = set()
    for k in np.argsort(-iou, kind="stable"):
        if iou[k] <= min_iou:
            break
        a, b = int(pairs[0, k]), int(pairs[1, k])
        if a not in mapping and b not in used:
            mapping[a] = b
            used.add(b)
    return mapping


def instance_rank(ids: np.ndarray, rank: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """Painting ranks ``(..., h, w)`` of a window's ids (lower paints over higher): every pixel of an instance
    gets the centre distance of the instance's centroid, plus the window size when the instance touches the
    window's edge (it may be cut off: a window that saw it whole is preferred); background pixels get their
    own centre distance ``rank`` plus twice the window size (they never paint over an instance)."""
    out = (rank + 2 * max(window)).astype(np.float32)  # background: after every instance
    fg = ids > 0
    if not fg.any():
        return out
    ph, pw = window
    flat = ids.reshape(-1).astype(np.int64)  # all instances in one pass: centroids and edge contact by bincount
    yy = np.broadcast_to(np.arange(ids.shape[-2])[:, None], ids.shape).reshape(-1)
    xx = np.broadcast_to(np.arange(ids.shape[-1])[None, :], ids.shape).reshape(-1)
    n = int(flat.max()) + 1
    count = np.maximum(np.bincount(flat, minlength=n), 1)
    cy = np.bincount(flat, weights=yy, minlength=n) / count
    cx = np.bincount(flat, weights=xx, minlength=n) / count
    d = np.maximum(np.abs(cy - (ph - 1) / 2), np.abs(cx - (pw - 1) / 2))
    edge = (yy == 0) | (xx == 0) | (yy == ph - 1) | (xx == pw - 1)
    cut = np.bincount(flat[edge], minlength=n) > 0
    out[fg] = (d + np.where(cut, max(ph, pw), 0))[ids[fg]]
    return out


class InstanceCanvas:
    """Pastes window instance ids ``(P, P)`` (clips ``(N, P, P)``) into one canvas of ``shape`` ``(H, W)`` (or
    ``(T, H, W)``); see the module docstring. ``match_iou``: the IoU above which a window's instance continues
    a canvas instance. ``window_ids[i]``: ``{window id: canvas id}`` of the i-th pasted window."""

    def __init__(self, shape: tuple[int, ...], match_iou: float = MATCH_IOU) -> None:
        if not 0 <= match_iou < 1:
            raise ValueError(f"match_iou must lie in [0, 1), got {match_iou}")
        self.canvas = np.zeros(shape, np.int64)
        self.rank = np.full(shape, np.inf, np.float32)  # rank of what painted a pixel (inf: nothing yet)
        self.next_id = 0
        self.match_iou = match_iou
        self.window_ids: list[dict[int, int]] = []

    def paste(self, ids: np.ndarray, y: int, x: int, t: int = 0) -> None:
        """Paste one window's ids ``(P, P)`` (clips ``(N, P, P)``, frames from ``t``) with its top-left corner
        at ``(y, x)``; the part outside the canvas is ignored."""
        h, w = self.canvas.shape[-2:]
        window = (ids.shape[-2], ids.shape[-1])
        rank = instance_rank(ids, np.broadcast_to(centre_distance(window), ids.shape), window)
        cut = (..., slice(0, max(0, h - y)), slice(0, max(0, w - x)))
        ids, rank = ids[cut].astype(np.int64), rank[cut]
        if self.canvas.ndim == 3:
            ids, rank = ids[: self.canvas.shape[0] - t], rank[: self.canvas.shape[0] - t]
            where: tuple[slice, ...] = (slice(t, t + ids.shape[0]),)
        else:
            where = ()
        where += (slice(y, y + ids.shape[-2]), slice(x, x + ids.shape[-1]))
        if ids.size == 0:
            self.window_ids.append({})
            return
        region, region_rank = self.canvas[where], self.rank[where]
        renamed = self._renumber(ids, region, np.isfinite(region_rank))
        self.window_ids.append(renamed)
        if renamed:
            table = np.zeros(max(renamed) + 1, np.int64)
            table[list(renamed)] = list(renamed.values())
            ids = table[ids]
        paint = rank < region_rank
        region[paint] = ids[paint]
        region_rank[paint] = rank[paint]

    def _renumber(self, ids: np.ndarray, region: np.ndarray, covered: np.ndarray) -> dict[int, int]:
        """``{window id: canvas id}`` of a window's ids: matched instances take their canvas ids, the others
        fresh ids."""
        mapping = match_ids(ids, region, covered, self.match_iou)
        renamed: dict[int, int] = {}
        for i in np.unique(ids[ids > 0]).tolist():
            if i in mapping:
                renamed[i] = mapping[i]
            else:
                self.next_id += 1
                renamed[i] = self.next_id
        return renamed


def vote_instance_classes(mask: np.ndarray, instances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stitched class labels and instance ids (one shape, any) -> both made consistent: every instance's pixels
    take the most frequent class among them (ties: the lower class); an instance whose most frequent class is
    background loses its id. (Masks are merged by vote and instances painted separately, so without this an
    instance can straddle two classes and count as two segments.)"""
    fg = instances > 0
    if not fg.any():
        return mask, instances
    ids, inverse = np.unique(instances[fg], return_inverse=True)
    k = int(mask.max()) + 1
    votes = np.zeros((ids.size, k), np.int64)
    np.add.at(votes, (inverse.ravel(), mask[fg].astype(np.int64).ravel()), 1)
    winner = votes.argmax(1)
    mask, instances = mask.copy(), instances.copy()
    mask[fg] = winner[inverse.ravel()]
    instances[fg] = np.where(winner[inverse.ravel()] > 0, instances[fg], 0)
    return mask, instances
