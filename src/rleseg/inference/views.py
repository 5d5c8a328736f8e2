"""Test-time views: every window is also predicted flipped and rotated, and the predictions are merged.

A view is one of the 8 symmetries of a square (the dihedral group): ``k`` in 0..7 rotates by ``k % 4``
quarter turns after transposing when ``k >= 4``. ``views=2`` adds the horizontal flip, ``4`` both flips and
the half turn (all keep a window's shape), ``8`` all eight (square windows only). Training augments with the
same symmetries (``data.augment``), so every view is a window the model could have been trained on; a token
model then writes a different sequence for each (another raster order over the same pixels), and their
disagreements average out. Each view's labels are mapped back to the window and merged per pixel by the
predictor's merge rule: votes (``vote``, ``fg-vote``) or the mean of class probabilities (``average``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from rleseg.inference.stitch import foreground_vote
from rleseg.segmenters.spec import WindowPrediction

VIEW_COUNTS = (1, 2, 4, 8)
VIEW_RULES = ("vote", "fg-vote", "average")  # merge rules that can combine several views of one window
_VIEWS = {1: (0,), 2: (0, 7), 4: (0, 7, 5, 2), 8: (0, 7, 5, 2, 1, 3, 4, 6)}  # 7: hflip, 5: vflip, 2: half turn


def view_indices(count: int) -> tuple[int, ...]:
    """The dihedral views ``k`` of ``count`` views (1, 2, 4 or 8); ValueError for any other count."""
    if count not in _VIEWS:
        raise ValueError(f"test-time views (data.eval_views, --views): expected 1, 2, 4 or 8, got {count!r}")
    return _VIEWS[count]


def to_view(x: torch.Tensor, k: int) -> torch.Tensor:
    """``x`` ``(..., H, W)`` seen in view ``k``: transposed when ``k >= 4``, then turned ``k % 4`` quarter turns."""
    if k >= 4:
        x = x.transpose(-1, -2)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def from_view(x: torch.Tensor, k: int) -> torch.Tensor:
    """The inverse of :func:`to_view`: ``from_view(to_view(x, k), k) == x``."""
    x = torch.rot90(x, -(k % 4), dims=(-2, -1))
    return x.transpose(-1, -2) if k >= 4 else x


def check_views(count: int, rule: str, window_shape: tuple[int, int] | None = None) -> None:
    """ValueError unless ``count`` views can be merged by ``rule`` on windows of ``window_shape`` ``(h, w)``."""
    view_indices(count)
    if count > 1 and rule not in VIEW_RULES:
        raise ValueError(
            f"test-time views (data.eval_views={count}) need a merge rule that combines them "
            f"({', '.join(VIEW_RULES)}), got {rule!r}"
        )
    if count == 8 and window_shape is not None and window_shape[0] != window_shape[1]:
        raise ValueError(
            f"8 test-time views turn windows by a quarter, which needs square windows, got {window_shape}: "
            "set data.patch_size, or use 4 views (flips only)"
        )


def predict_views(
    predict: Callable[[torch.Tensor], WindowPrediction],
    images: torch.Tensor,
    count: int,
    rule: str,
    num_classes: int,
    class_weights: np.ndarray | None = None,
) -> WindowPrediction:
    """Predict windows ``(B, [N,] 3, P, P)`` in ``count`` views at once (one batch of ``count * B``) and merge.

    Returns labels ``(B, [N,] h, w)`` merged per pixel by ``rule`` (``average`` uses the mean of
    ``extras["probs"]`` ``(B, C + 1, [N,] h, w)`` when the model gives them, else votes; ``class_weights``
    ``(C + 1,)``: of ``fg-vote``'s class choice, :func:`~rleseg.inference.stitch.foreground_vote`); every other extra
    (such as token lengths) is the first view's, the window as it is."""
    check_views(count, rule, tuple(images.shape[-2:]))
    ks = view_indices(count)
    if count == 1:
        return predict(images)
    b = images.shape[0]
    out = predict(torch.cat([to_view(images, k) for k in ks]))
    masks = torch.stack([from_view(out.masks[i * b : (i + 1) * b], k) for i, k in enumerate(ks)])  # (V, B, ...)
    extras = {name: value[:b] for name, value in out.extras.items()}
    probs = out.extras.get("probs")
    if rule == "average" and probs is not None:
        mean = torch.stack([from_view(probs[i * b : (i + 1) * b], k) for i, k in enumerate(ks)]).float().mean(0)
        extras["probs"] = mean
        return WindowPrediction(mean.argmax(1), None, extras)
    extras.pop("probs", None)
    votes = np.stack([(masks == c).sum(0).numpy() for c in range(num_classes + 1)])  # (C + 1, B, ...)
    merged = foreground_vote(votes, class_weights) if rule == "fg-vote" else votes.argmax(0)
    return WindowPrediction(torch.from_numpy(merged).long(), None, extras)
