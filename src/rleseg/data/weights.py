"""Per-token loss weights: PAD ignored, EOS weighted, class tokens optionally equalised (paper IV-C).

Class-token weight equalisation gives each class token as much weight as all the coordinate tokens it
classifies together: the tokens of its run (multiclass, tac), or of its whole group (cw, iw), so a single
class token is not outweighed by the tens or hundreds of coordinate tokens around it.
"""

from __future__ import annotations

import torch

from rleseg.tokenizers.base import Tokenizer
from rleseg.tokenizers.vocab import EOS, PAD, PROMPT

CLASS_RANGES = ("classes", "tac", "stuff", "bac_classes", "diff_classes")


def class_token_mask(tok: Tokenizer, tokens: torch.Tensor) -> torch.Tensor:
    """Bool tensor, same shape as ``tokens``: True where a token is a separate class token."""
    out = torch.zeros_like(tokens, dtype=torch.bool)
    for name in CLASS_RANGES:
        if name in tok.vocab:
            r = tok.vocab[name]
            out |= (tokens >= r.start) & (tokens < r.stop)
    return out


def token_weights(
    tok: Tokenizer, targets: torch.Tensor, *, eos_weight: float = 1.0, class_weight: str | float = "equalize"
) -> torch.Tensor:
    """Loss weight of every target token: ``targets (B, L)`` -> ``(B, L)`` float32.

    PAD (and the prompt) get 0, EOS ``eos_weight``, coordinate tokens 1. Class tokens get 1 with
    ``class_weight="none"``, a constant with a float, or with ``"equalize"`` the number of coordinate tokens
    since the previous class token (the run or group that the class token labels).
    """
    w = torch.ones_like(targets, dtype=torch.float32)
    w[(targets == PAD) | (targets == PROMPT)] = 0.0
    w[targets == EOS] = float(eos_weight)
    is_class = class_token_mask(tok, targets)
    if class_weight == "none":
        return w
    if isinstance(class_weight, (int, float)) and not isinstance(class_weight, bool):
        w[is_class] = float(class_weight)
        return w
    if class_weight != "equalize":
        raise ValueError(f"class_weight must be 'equalize', 'none' or a number, got {class_weight!r}")
    coord = (w > 0) & (targets != EOS) & ~is_class
    # group id of each token = number of class tokens strictly before it
    group = torch.cumsum(is_class.long(), dim=1) - is_class.long()
    counts = torch.zeros(targets.shape[0], targets.shape[1] + 1, dtype=torch.float32, device=targets.device)
    counts.scatter_add_(1, group, coord.float())
    per_class = torch.gather(counts, 1, group)
    w = torch.where(is_class, per_class.clamp(min=1.0), w)
    return w
