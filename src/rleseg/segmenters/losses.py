"""Per-pixel segmentation losses: weighted cross-entropy, soft multiclass Dice, and class weights.

Shapes: ``logits`` ``(B, K, H, W)`` with K = C + 1 classes (background first), ``target`` int64 class ids
``(B, H, W)`` in ``0..K-1``, class weights ``(K,)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """``1 - mean_c dice_c`` of the softmax of ``logits`` ``(B, K, H, W)`` against ``target`` ``(B, H, W)``.

    ``dice_c = (2 sum(p_c t_c) + smooth) / (sum(p_c) + sum(t_c) + smooth)`` is summed over the whole batch
    (every window and pixel) and averaged over the classes present in ``target``, background included: a
    class absent from the batch has no well-defined Dice and would otherwise weigh on the loss of every batch
    without it. Its false positives are still paid for by the present classes (their probabilities sum to 1)
    and by the cross-entropy. A perfect one-hot prediction gives 0; an empty target gives 0.
    """
    if logits.ndim != 4 or target.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f"expected logits (B, K, H, W) and target (B, H, W), got {logits.shape} and {target.shape}")
    k = logits.shape[1]
    probs = logits.float().softmax(1)  # (B, K, H, W)
    onehot = F.one_hot(target, k).permute(0, 3, 1, 2).to(probs.dtype)  # (B, K, H, W)
    inter = (probs * onehot).sum((0, 2, 3))  # (K,)
    sizes = onehot.sum((0, 2, 3))  # (K,) target pixels per class
    dice = (2 * inter + smooth) / (probs.sum((0, 2, 3)) + sizes + smooth)  # (K,)
    present = sizes > 0
    if not bool(present.any()):
        return probs.sum() * 0.0  # no pixels: a zero that keeps the graph
    return 1.0 - dice[present].mean()


def cross_entropy(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Pixel cross-entropy of ``logits`` ``(B, K, H, W)`` against ``target`` ``(B, H, W)``: with class
    weights ``(K,)`` it is ``sum(w[t] * ce) / sum(w[t])`` (PyTorch's weighted mean), else the plain mean."""
    w = None if weight is None else weight.to(device=logits.device, dtype=torch.float32)
    return F.cross_entropy(logits.float(), target, weight=w)


def ce_dice_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    ce_weight: float = 1.0,
    dice_weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``ce_weight * CE + dice_weight * Dice loss`` of ``logits`` ``(B, K, H, W)`` against ``target``
    ``(B, H, W)``, class weights ``(K,)`` in the cross-entropy only; returns ``(total, ce, dice)`` (a term
    with weight 0 is not computed and reads 0)."""
    zero = logits.new_zeros((), dtype=torch.float32)
    ce = cross_entropy(logits, target, weight) if ce_weight else zero
    dice = soft_dice_loss(logits, target) if dice_weight else zero
    return ce_weight * ce + dice_weight * dice, ce, dice


def pixel_counts(target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """int64 ``(K,)`` pixels of each class in ``target`` (any shape, ids ``0..K-1``)."""
    return torch.bincount(target.reshape(-1), minlength=num_classes)[:num_classes]


def sqrt_inverse_weights(counts: torch.Tensor) -> torch.Tensor:
    """Class weights ``(K,)`` from pixel counts ``(K,)``: ``1 / sqrt(frequency)``, normalised to mean 1 over
    the classes with pixels; classes without pixels get 1 (they are in no target, so their weight is unused).
    All counts 0: all weights 1."""
    counts = counts.double()
    seen = counts > 0
    weights = torch.ones_like(counts)
    if bool(seen.any()):
        raw = (counts[seen] / counts.sum()).rsqrt()
        weights[seen] = raw / raw.mean()
    return weights.float()
