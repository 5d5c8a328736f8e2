"""Generation speed: KV cache and EOS stop against the reference behaviour (all L tokens, no cache).

Three runs side by side on the same model and images: the reference implementation's way (re-run the
decoder over the whole prefix at every step, always L steps), the KV cache alone (still L steps), and the
KV cache with EOS stop. The EOS stop is measured at the realistic sequence length of the synthetic data:
the budget ends there, so the grammar makes every sequence write EOS at that point, exactly as a trained
model that stops at its EOS.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from benchmarks.common import BenchResult, Table, run_standalone
from rleseg.data.synthetic import SyntheticCells
from rleseg.inference.generate import generate
from rleseg.models.pix2seq import ModelConfig, Pix2SeqModel
from rleseg.tokenizers import create_tokenizer
from rleseg.tokenizers.grammar import make_grammar
from rleseg.tokenizers.resolution import subsample

NAME = "generation"


def realistic_length(tok: object, size: int = 320, factor: int = 4, num: int = 8) -> int:
    """Mean token count of the synthetic cells masks at the tokenizer's size (EOS included)."""
    source = SyntheticCells("val", num_images=num, size=size)
    return int(np.mean([len(tok.encode(subsample(source[i].mask, factor))) for i in range(num)]))  # type: ignore[attr-defined]


def _timed(fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t0


def run(quick: bool = False) -> BenchResult:
    """Time the three generation modes at one budget L."""
    torch.manual_seed(0)
    budget = 256 if quick else 1024
    tok = create_tokenizer("lac", mask_size=80, num_classes=2)
    cfg = ModelConfig(
        backbone="resnet10t", feature_level=-2, dim=256, heads=8, encoder_layers=2, decoder_layers=4, dropout=0.0
    )
    model = Pix2SeqModel(tok, cfg).eval()
    images = torch.randint(0, 255, (2, 3, 320, 320), dtype=torch.uint8)
    n = min(realistic_length(tok), budget)
    g_full = make_grammar(tok, max_len=budget)
    g_eos = make_grammar(tok, max_len=n)
    runs = {
        "reference: no cache, all L steps": lambda: generate(
            model, images, budget, grammar=g_full, use_cache=False, stop_at_eos=False
        ),
        "KV cache, all L steps": lambda: generate(model, images, budget, grammar=g_full, stop_at_eos=False),
        f"KV cache + EOS stop (at {n} tokens)": lambda: generate(model, images, n, grammar=g_eos),
    }
    times = {name: _timed(fn) for name, fn in runs.items()}
    ref = times["reference: no cache, all L steps"]
    table = Table(
        f"Generation of 2 sequences, L = {budget}, decoder 4 x 256 (CPU, one run each, side by side)",
        ["mode", "seconds", "speed-up over reference"],
    )
    for name, sec in times.items():
        table.add(name, sec, f"{ref / sec:.1f}x")
    return BenchResult(
        NAME,
        [table],
        [{"mode": k, "seconds": v, "speedup": ref / v} for k, v in times.items()],
        params={"L": budget, "realistic_length": n, "batch": 2, "quick": quick},
        notes=["Goal of the P2S-SEG issue: at least 10x faster than the reference at L = 1024."],
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.bench_generation [--quick]``: run, print the tables and write the JSON results."""
    return run_standalone(run, __doc__, "L = 256 instead of 1024", argv)


if __name__ == "__main__":
    sys.exit(main())
