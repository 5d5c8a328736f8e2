"""Batched helpers that take and return padded torch tensors, for the data loader and the model.

``encode_batch`` tokenizes a batch of masks into a ``(B, L)`` tensor padded with PAD. For the fixed-tuple
schemes (binary, multiclass, lac, 3d-c, 3d-f, tac, ltac) in raster order it runs entirely in torch on the
masks' device (CPU or GPU); other schemes and random run order go through the numpy tokenizer per sample.
``decode_batch`` turns generated ``(B, L)`` tokens back into a batch of masks on the tokens' device.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rleseg.tokenizers.base import DecodeInfo, Tokenizer
from rleseg.tokenizers.flat import FlatRLETokenizer, TACTokenizer
from rleseg.tokenizers.vocab import EOS, PAD, PROMPT


def pad_sequences(
    seqs: Sequence[np.ndarray | torch.Tensor],
    *,
    length: int | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """1-D token sequences -> ``(tokens (B, L) int64 padded with PAD, lengths (B,))``.

    ``L`` is the longest sequence, or ``length`` when given (sequences longer than it raise ValueError).
    """
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    width = int(lengths.max()) if len(seqs) else 0
    if length is not None:
        if width > length:
            raise ValueError(f"a sequence of {width} tokens does not fit the padded length {length}")
        width = length
    out = torch.full((len(seqs), width), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.as_tensor(np.asarray(s), dtype=torch.long)
    return out.to(device) if device is not None else out, lengths.to(out.device)


def decoder_inputs(tokens: torch.Tensor) -> torch.Tensor:
    """Teacher-forcing input for targets ``tokens (B, L)``: the prompt then the targets shifted right."""
    inp = torch.empty_like(tokens)
    inp[:, 0] = PROMPT
    inp[:, 1:] = tokens[:, :-1]
    return inp


def encode_batch(
    tok: Tokenizer,
    masks: Any,
    *,
    max_len: int | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokenize a batch: masks ``(B, *tok.mask_shape)`` -> ``(tokens (B, L), lengths (B,))``.

    ``masks``: a tensor or array of stacked masks, or a sequence of masks (``iw``: a pair
    ``(masks, instances)`` of stacked arrays). ``max_len`` (default ``tok.max_len``) cuts each sequence at a
    run boundary. Every row equals ``tok.encode`` of that mask, padded with PAD.
    """
    budget = tok.max_len if max_len is None else max_len
    if isinstance(masks, torch.Tensor) and isinstance(tok, FlatRLETokenizer) and tok.run_order == "raster":
        out = _encode_flat_torch(tok, masks, budget)
        return (out[0].to(device), out[1].to(device)) if device is not None else out
    if tok.instance_aware:
        cls, inst = masks
        items: list[Any] = [(_np(c), _np(i)) for c, i in zip(cls, inst, strict=True)]
    else:
        items = [_np(m) for m in masks]
    if budget != tok.max_len:
        tok = copy.copy(tok)  # the caller's tokenizer keeps its own budget
        tok.max_len = budget
    seqs = [tok.encode(item) for item in items]
    return pad_sequences(seqs, device=device if device is not None else _device_of(masks))


def decode_batch(tok: Tokenizer, tokens: torch.Tensor | np.ndarray, *, return_info: bool = False) -> Any:
    """Generated tokens ``(B, L)`` -> masks ``(B, *tok.mask_shape)`` on the tokens' device.

    ``iw`` returns ``(masks, instances)``. With ``return_info`` also a list of :class:`DecodeInfo`.
    Never raises on malformed sequences.
    """
    device = tokens.device if isinstance(tokens, torch.Tensor) else torch.device("cpu")
    rows = tokens.detach().cpu().numpy() if isinstance(tokens, torch.Tensor) else np.asarray(tokens)
    decoded = []
    infos: list[DecodeInfo] = []
    for row in rows:
        result, info = tok.decode(row, return_info=True)
        decoded.append(result)
        infos.append(info)
    if tok.instance_aware:
        out: Any = tuple(
            torch.from_numpy(np.stack([d[j] for d in decoded]).astype(np.int64)).to(device) for j in range(2)
        )
    else:
        out = torch.from_numpy(np.stack(decoded).astype(np.int64)).to(device)
    return (out, infos) if return_info else out


def _np(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _device_of(x: Any) -> torch.device | None:
    if isinstance(x, torch.Tensor):
        return x.device
    if isinstance(x, (tuple, list)) and x and isinstance(x[0], torch.Tensor):
        return x[0].device
    return None


def _check_batch(tok: FlatRLETokenizer, masks: torch.Tensor) -> None:
    if masks.shape[1:] != tok.mask_shape:
        expected = ", ".join(map(str, tok.mask_shape))
        raise ValueError(f"{tok.name}: masks have shape {tuple(masks.shape)}, expected (B, {expected})")
    if masks.dtype.is_floating_point or masks.dtype.is_complex:
        raise ValueError(f"{tok.name}: masks must have an integer or bool dtype, got {masks.dtype}")
    if masks.numel():
        lo, hi = int(masks.min()), int(masks.max())
        if lo < 0 or hi > tok.num_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{tok.name}: masks hold value {bad}, expected values in [0, {tok.num_classes}]")


def _encode_flat_torch(
    tok: FlatRLETokenizer, masks: torch.Tensor, budget: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Vectorised run extraction and token assembly for a whole batch, on the masks' device."""
    _check_batch(tok, masks)
    dev = masks.device
    b = masks.shape[0]
    labels = masks.long()
    if isinstance(tok, TACTokenizer):
        weights = (tok.num_classes + 1) ** torch.arange(tok.num_frames, device=dev, dtype=torch.long)
        labels = (labels * weights.view(1, -1, 1, 1)).sum(1)
    f = tok.flattening
    n, ll = f.size, f.line_len
    flat = labels.permute(0, *[a + 1 for a in f.axes]).reshape(-1)  # (B * n,)
    change = torch.ones_like(flat, dtype=torch.bool)
    change[1:] = flat[1:] != flat[:-1]
    change[::ll] = True
    bounds = torch.nonzero(change).squeeze(1)
    ends = torch.cat([bounds[1:], torch.tensor([flat.numel()], device=dev)])
    vals = flat[bounds]
    keep = vals != 0
    bounds, ends, vals = bounds[keep], ends[keep], vals[keep]
    sample = bounds // n
    starts = bounds % n
    lengths = ends - bounds
    counts = torch.bincount(sample, minlength=b)
    first = torch.cumsum(counts, 0) - counts
    rank = torch.arange(bounds.numel(), device=dev) - first[sample]
    k = tok.tokens_per_run
    if budget is not None:
        max_runs = (budget - 1) // k
        fits = rank < max_runs
        sample, starts, lengths, vals, rank = (
            sample[fits],
            starts[fits],
            lengths[fits],
            vals[fits],
            rank[fits],
        )
        counts = torch.clamp(counts, max=max_runs)
    v = tok.vocab
    cols: list[torch.Tensor] = []
    if tok.start_codec.mode == "1d":
        cols.append(starts + v["starts"].start)
    else:
        cols += [starts // ll + v["coords"].start, starts % ll + v["coords"].start]
    vc = tok.value_codec
    if vc.mode == "length":
        cols.append(lengths - 1 + v["lengths"].start)
    elif vc.mode == "class":
        cols += [lengths - 1 + v["lengths"].start, vals - 1 + v[vc.value_range].start]
    else:
        cols.append((vals - 1) * ll + lengths - 1 + v[vc.value_range].start)
    seq_len = counts * k + 1
    out = torch.full((b, int(seq_len.max()) if b else 1), PAD, dtype=torch.long, device=dev)
    for j, col in enumerate(cols):
        out[sample, rank * k + j] = col
    out[torch.arange(b, device=dev), counts * k] = EOS
    return out, seq_len
