"""Batched encoding: per-mask cost of ``encode_batch`` (torch, whole batch at once) and of a loop of
``encode()`` calls, against pycocotools' own batched encode of the same binary masks (``mask.encode`` of an
``(H, W, B)`` Fortran array).

On a CPU the torch path is the slowest of the three (it converts the batch to int64 and makes several
full passes over it); it exists for masks that already live on a GPU, where copying them to the host would
cost more. This table keeps that trade-off measured rather than assumed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pycocotools import mask as coco_mask

from benchmarks.bench_tokenizer import binary_mask
from benchmarks.common import BenchResult, Table, time_interleaved
from rleseg.tokenizers import create_tokenizer
from rleseg.tokenizers.batch import encode_batch

NAME = "batch_encode"


def run(quick: bool = False) -> BenchResult:
    """Per-mask encode time over batches of 64 blob-like binary masks at S = 80 and 160."""
    rng = np.random.default_rng(0)
    batch = 64
    table = Table(
        f"Encoding a batch of {batch} binary masks, per mask (side by side)",
        ["S", "pycocotools (us)", "encode_batch, torch (us)", "per-mask encode() loop (us)", "torch vs coco"],
    )
    records: list[dict[str, Any]] = []
    for s in [80] if quick else [80, 160]:
        masks = np.stack([binary_mask("blob", s, rng) for _ in range(batch)]).astype(np.uint8)
        fortran = np.asfortranarray(masks.transpose(1, 2, 0))  # (H, W, B), as pycocotools wants it
        tok = create_tokenizer("binary", mask_size=s, order="col")  # COCO RLE is column-major too
        tensor = torch.from_numpy(masks)
        timings = time_interleaved(
            {
                "coco": lambda f=fortran: coco_mask.encode(f),
                "torch": lambda t=tensor, k=tok: encode_batch(k, t),
                "loop": lambda m=masks, k=tok: [k.encode(x) for x in m],
            },
            repeat=5 if quick else 15,
            target_s=0.05,
        )
        per = {k: v.min_s / batch * 1e6 for k, v in timings.items()}
        table.add(s, per["coco"], per["torch"], per["loop"], f"{per['coco'] / per['torch']:.2f}x")
        records.append({"S": s, "batch": batch, "per_mask_us": per})
    return BenchResult(
        NAME,
        [table],
        records,
        params={"batch": batch, "quick": quick},
        notes=["'torch vs coco' above 1 means the batched torch path is faster per mask than pycocotools."],
    )
