"""Loader throughput with and without online tokenization, and tokenization's share of a training step.

The paper's authors precomputed RLE tokens offline because tokenizing online in TensorFlow slowed
training tenfold. Here the same windows are loaded twice side by side, once with tokens and once
without; the difference is what online tokenization costs per batch, compared with one training step.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from benchmarks.common import BenchResult, Table, time_interleaved
from rleseg.config import Config, ModelConfig, TokenizerConfig
from rleseg.data.datamodule import stack_windows
from rleseg.data.synthetic import SyntheticCells
from rleseg.data.windows import WindowConfig, WindowDataset
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.segmenters.token_batch import collate_tokens
from rleseg.tokenizers import create_tokenizer

NAME = "loader"

SETTINGS = [  # (label, synthetic image size, patch P, mask size S, scheme, model config or None)
    ("demo (P=128, S=32, lac)", 256, 128, 32, "lac", "demo"),
    ("paper-like (P=640, S=80, lac)", 640, 640, 80, "lac", "paper"),
    ("paper-like (P=640, S=80, iw)", 640, 640, 80, "iw", None),
]


def _model_cfg(kind: str) -> ModelConfig:
    if kind == "demo":
        return ModelConfig(
            backbone="resnet10t", feature_level=-2, dim=128, heads=4, encoder_layers=2, decoder_layers=2, dropout=0
        )
    return ModelConfig()  # ResNet-50, 6 + 6 layers of width 256: the paper-like default


def _batch_fn(ds: WindowDataset, tok: Any, batch_size: int) -> Any:
    """Load the next batch of windows; with ``tok``, collated with token targets (the token family's collate)."""
    state = {"j": 0}

    def load() -> dict[str, Any]:
        start = state["j"]
        items = [ds[(start + k) % len(ds)] for k in range(batch_size)]
        state["j"] = (start + batch_size) % len(ds)
        return stack_windows(items) if tok is None else collate_tokens(items, tok)

    return load


def _train_step_seconds(model_kind: str, tok: Any, batch: dict[str, Any]) -> float:
    """Seconds of one forward + backward + optimiser step of the given model on ``batch``."""
    cfg = Config(tokenizer=TokenizerConfig(name=tok.name, mask_size=tok.height), model=_model_cfg(model_kind))
    task = Pix2SeqSegmenter.from_tokenizer(cfg, tok, ["background", "ipsc", "dfc"])
    opt = torch.optim.AdamW(task.parameters(), lr=1e-4)
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        loss, _ = task.loss(batch)
        loss.backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - t0)
    return min(times)


def run(quick: bool = False) -> BenchResult:
    """Time loader batches with and without tokens for each setting."""
    table = Table(
        "Loader batch time with and without online tokenization (same windows, side by side)",
        [
            "setting",
            "batch",
            "tokens/seq",
            "without tokens (ms)",
            "with tokens (ms)",
            "tokenize batch (ms)",
            "tokenization share of batch",
            "train step (ms)",
            "tokenization / train step",
        ],
    )
    records = []
    settings = SETTINGS[:1] if quick else SETTINGS
    for label, size, patch, s, scheme, model_kind in settings:
        source = SyntheticCells("train", num_images=8, size=size)
        tok = create_tokenizer(scheme, mask_size=s, num_classes=2)
        cfg = WindowConfig(patch_size=patch)
        windows = WindowDataset(source, cfg, train=True, mask_size=(s, s))
        batch_size = 8
        items = [windows[k] for k in range(batch_size)]
        inputs = [
            (it["mask"].numpy(), it["instances"].numpy()) if tok.instance_aware else it["mask"].numpy() for it in items
        ]

        def tokenize_batch(tok: Any = tok, inputs: list[Any] = inputs) -> list[Any]:
            return [tok.encode(x) for x in inputs]

        timings = time_interleaved(
            {
                "with": _batch_fn(windows, tok, batch_size),
                "without": _batch_fn(windows, None, batch_size),
                "tokenize": tokenize_batch,
            },
            repeat=3 if quick else 7,
            target_s=0.2,
        )
        t_with, t_without = timings["with"].min_s, timings["without"].min_s
        tokenize_s = timings["tokenize"].min_s
        batch = collate_tokens(items, tok)
        mean_len = float(batch["lengths"].float().mean())
        step_s = float("nan")
        if model_kind is not None and not (quick and model_kind == "paper"):
            step_s = _train_step_seconds(model_kind, tok, batch)
        share = tokenize_s / (t_without + tokenize_s)
        table.add(
            label,
            batch_size,
            round(mean_len, 1),
            t_without * 1e3,
            t_with * 1e3,
            tokenize_s * 1e3,
            f"{share:.1%}",
            step_s * 1e3,
            f"{tokenize_s / step_s:.2%}" if step_s == step_s else "-",
        )
        records.append(
            {
                "setting": label,
                "batch_size": batch_size,
                "mean_tokens": mean_len,
                "without_tokens_s": timings["without"].to_dict(),
                "with_tokens_s": timings["with"].to_dict(),
                "tokenize_batch_s": timings["tokenize"].to_dict(),
                "tokenization_s_per_batch": tokenize_s,
                "train_step_s": step_s,
                "tokenization_over_train_step": tokenize_s / step_s if step_s == step_s else None,
            }
        )
    return BenchResult(
        NAME,
        [table],
        records,
        params={"quick": quick},
        notes=[
            "Loader work per batch: reading/generating the sample, cropping, augmentation, subsampling, collation;",
            "'with tokens' adds online tokenization in the same process; 'tokenize batch' times tok.encode of the",
            "batch's masks alone (the share uses it). Train step: forward+backward+AdamW on this CPU.",
        ],
    )
