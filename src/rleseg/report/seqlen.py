"""Token sequence lengths of an evaluation: what the model generated and what the ground truth needs.

Generated lengths come from the predictor (one per window, EOS included). Ground-truth lengths are the
lengths of the ground-truth window masks encoded by the checkpoint's tokenizer at its mask size S, cut to
the same windows the predictor used (:func:`target_lengths`); they are taken before the budget L cuts
them, so the statistics show how often L is too small.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rleseg.data.sample import Sample
from rleseg.tokenizers import Tokenizer
from rleseg.tokenizers.resolution import resize_nearest, subsample


@dataclass(frozen=True)
class LengthSummary:
    """Statistics of ``windows`` sequence lengths against the budget L: mean, median, 95th percentile,
    max, and the fraction of windows at the budget (``at_budget``: generated sequences that reached L,
    or ground-truth sequences longer than L that the tokenizer cuts)."""

    windows: int
    mean: float | None
    median: float | None
    p95: float | None
    max: int | None
    budget: int | None
    at_budget: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize_lengths(lengths: np.ndarray, budget: int | None, *, over_only: bool = False) -> LengthSummary:
    """Summarize ``lengths`` ``(num_windows,)``. A window is at the budget when its length is ``>= budget``
    (``over_only``: ``> budget``, for uncut ground-truth lengths, which equal L when they just fit)."""
    x = np.asarray(lengths, dtype=np.int64).reshape(-1)
    if x.size == 0:
        return LengthSummary(0, None, None, None, None, budget, None)
    hit = None
    if budget is not None:
        hit = float(np.mean(x > budget if over_only else x >= budget))
    return LengthSummary(
        int(x.size),
        float(x.mean()),
        float(np.median(x)),
        float(np.percentile(x, 95)),
        int(x.max()),
        budget,
        hit,
    )


def _to_mask_size(labels: np.ndarray, tok: Tokenizer) -> np.ndarray:
    """Labels ``(..., P, P)`` -> ``(..., H_S, W_S)`` the way training windows are brought to S (nearest:
    centre pixels when P is a multiple of S, else a nearest resize)."""
    hs, ws = tok.height, tok.width
    ph, pw = labels.shape[-2:]
    if pw % ws == 0 and ph % hs == 0 and pw // ws == ph // hs:
        return subsample(labels, pw // ws)
    return resize_nearest(labels, (hs, ws))


def target_lengths(
    sample: Sample,
    tok: Tokenizer,
    *,
    image_size: int | None,
    patch_size: int | None,
    stride: int | None,
    frame_stride: int | None = None,
) -> np.ndarray:
    """Uncut token lengths ``(num_windows,)`` (EOS included) of the ground truth of ``sample``, window by
    window, with the predictor's geometry: resize to ``image_size``, ``patch_size`` windows (None: the whole
    image) at ``stride`` (None: the patch size) and, for video tokenizers, clips of ``tok.num_frames``
    frames every ``frame_stride`` (None: ``num_frames``). ``sample``: ``(H, W)`` mask, or ``(T, H, W)`` with a
    video tokenizer. ``iw`` tokenizers encode the instances too (all 0 when the sample has none)."""
    from rleseg.data.patches import crop_window, resize_sample, spatial_windows, temporal_windows  # torch

    video = len(tok.mask_shape) == 3
    if video != sample.is_video:
        kind = "a video" if video else "an image"
        raise ValueError(
            f"{sample.name}: {tok.name} is {kind} tokenizer; it cannot encode a mask of shape {sample.mask.shape}"
        )
    s = resize_sample(sample, image_size)
    h, w = s.mask.shape[-2:]
    p = patch_size or max(h, w)
    corners = spatial_windows(h, w, p, stride or p)
    n = tok.num_frames if video else None
    starts = temporal_windows(s.mask.shape[0], tok.num_frames, frame_stride or tok.num_frames) if video else [0]
    rng = np.random.default_rng(0)  # random run orders: the length does not depend on the order
    out: list[int] = []
    for t in starts:
        for y, x in corners:
            win = crop_window(s, y, x, p, t, n)
            mask = _to_mask_size(win.mask, tok).astype(np.int64)
            inst = np.zeros_like(mask) if win.instances is None else _to_mask_size(win.instances, tok).astype(np.int64)
            _, info = tok.encode((mask, inst) if tok.instance_aware else mask, return_info=True, rng=rng)
            out.append(info.full_length)
    return np.asarray(out, dtype=np.int64)
