"""The token family's batches: window labels encoded by the tokenizer in the loader workers (collate).

:func:`collate_tokens` adds to :func:`~rleseg.data.datamodule.stack_windows`'s batch ``targets`` ``(B, L)``
(tokens then EOS, PAD after), ``inputs`` ``(B, L)`` (the prompt then the targets shifted right), ``weights``
``(B, L)`` float loss weights and ``lengths`` ``(B,)`` (``B * N`` rows for clips written one sequence per
frame).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from rleseg.data.datamodule import RLESegDataModule, check_class_count, stack_windows
from rleseg.data.sample import SegmentationSource
from rleseg.data.weights import token_weights
from rleseg.data.windows import window_rng
from rleseg.tokenizers.base import Tokenizer
from rleseg.tokenizers.batch import decoder_inputs, pad_sequences


def encode_item(tok: Tokenizer, item: dict[str, Any], frame: int | None = None) -> torch.Tensor:
    """The tokens ``(len,)`` (ending with EOS, cut to ``tok.max_len``) of one window item's labels (of its
    clip's ``frame`` only, when given); a random run order is seeded by the item's ``window_key``."""
    mask, instances = item["mask"].numpy(), item["instances"].numpy()
    if frame is not None:
        mask, instances = mask[frame], instances[frame]
    rng = None
    if tok.run_order == "random":
        rng = window_rng(item, 2)
    x = (mask, instances) if tok.instance_aware else mask
    return torch.from_numpy(tok.encode(x, rng=rng))


def collate_tokens(
    items: list[dict[str, Any]],
    tok: Tokenizer,
    *,
    pad_to: int | None = None,
    eos_weight: float = 1.0,
    class_weight: str | float = "equalize",
    frames: int | None = None,
) -> dict[str, Any]:
    """Stack window items into a batch and add token targets padded to the longest (or ``pad_to``).

    ``frames``: clips of that many frames, each frame its own sequence in ``tok``, an image scheme (the frame
    scheme of a model with one sequence per frame): targets ``(B * N, L)``, frame after frame.
    """
    batch = stack_windows(items)
    if frames is None:
        sequences = [encode_item(tok, it) for it in items]
    else:
        sequences = [encode_item(tok, it, frame) for it in items for frame in range(frames)]
    targets, lengths = pad_sequences(sequences, length=pad_to)
    batch["targets"] = targets
    batch["lengths"] = lengths
    batch["inputs"] = decoder_inputs(targets)
    batch["weights"] = token_weights(tok, targets, eos_weight=eos_weight, class_weight=class_weight)
    return batch


def token_datamodule(
    tok: Tokenizer,
    train: SegmentationSource | None = None,
    val: SegmentationSource | None = None,
    test: SegmentationSource | None = None,
    *,
    pad_to_max_len: bool = False,
    eos_weight: float = 1.0,
    class_weight: str | float = "equalize",
    **kwargs: Any,
) -> RLESegDataModule:
    """A DataModule of windows at ``tok``'s mask size (clips of its N frames for video schemes), batched with
    token targets (:func:`collate_tokens`; padded to ``tok.max_len`` with ``pad_to_max_len``, e.g. to measure
    memory at a given L). ``kwargs`` go to :class:`RLESegDataModule` (windows, batch sizes, workers, seed)."""
    built_for = f"tokenizer {tok.name} was built for num_classes={tok.num_classes}"
    check_class_count([train, val, test], tok.num_classes, built_for)
    collate = partial(
        collate_tokens,
        tok=tok,
        pad_to=tok.max_len if pad_to_max_len else None,
        eos_weight=eos_weight,
        class_weight=class_weight,
    )
    frames = int(tok.num_frames) if len(tok.mask_shape) == 3 else None
    return RLESegDataModule(
        train, val, test, frames=frames, mask_size=(int(tok.height), int(tok.width)), collate=collate, **kwargs
    )
