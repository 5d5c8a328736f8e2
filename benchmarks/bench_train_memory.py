"""Training-step peak memory and time as the sequence length L grows from 512 to 8192.

The paper's authors could not train beyond L = 4096 on a 24 GB GPU. Attention here runs through
``scaled_dot_product_attention``, whose fused kernels never hold the L x L attention matrix, so memory
should grow linearly in L. Each L runs in a fresh process (CPU: peak resident memory over the step minus
the resident memory before it, on the first step, whose peak also holds the optimiser state allocated
then, the same for every L; GPU: ``torch.cuda.max_memory_allocated``). Time is taken on the second step.
"""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.common import BenchResult, Table

NAME = "train_memory"

CHILD = r"""
import json, sys, time, torch
from rleseg.models.pix2seq import ModelConfig, Pix2SeqModel
from rleseg.tokenizers import create_tokenizer
from rleseg.segmenters.pix2seq import weighted_token_loss
L, dev = int(sys.argv[1]), sys.argv[2]
torch.manual_seed(0)
tok = create_tokenizer("lac", mask_size=80, num_classes=2)
cfg = ModelConfig(backbone="resnet10t", frozen_backbone=True, dim=256, heads=8, encoder_layers=6,
                  decoder_layers=6, dropout=0.0)
model = Pix2SeqModel(tok, cfg).to(dev)
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
images = torch.randint(0, 255, (1, 3, 640, 640), dtype=torch.uint8, device=dev)
tokens = torch.randint(3, tok.vocab_size, (1, L), device=dev)
weights = torch.ones(1, L, device=dev)
def step():
    loss = weighted_token_loss(model(images, tokens), tokens, weights)
    loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
if dev == "cuda":
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
else:
    import os
    base = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")  # resident bytes
step()  # the first step: its peak memory (optimiser state included, the same for every L)
if dev == "cuda":
    torch.cuda.synchronize(); peak = torch.cuda.max_memory_allocated()
else:
    # VmHWM: this process image's resident high-water mark (ru_maxrss would include the parent's at fork)
    hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")][0]
    peak = int(hwm.split()[1]) * 1024
t0 = time.perf_counter(); step()  # the second step: its time
if dev == "cuda":
    torch.cuda.synchronize()
print(json.dumps({"L": L, "seconds": time.perf_counter() - t0, "peak_bytes": peak, "base_bytes": base}))
"""


def run(quick: bool = False) -> BenchResult:
    """One training step per L in a fresh process; report peak memory above the pre-step baseline."""
    import torch

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    lengths = [512, 1024, 2048] if quick else [512, 1024, 2048, 4096, 8192]
    table = Table(
        f"Training step (batch 1, 640x640 input, decoder 6 x 256, V = 6563) on {dev}",
        ["L", "step seconds", "peak memory above baseline (MiB)", "added MiB per 1K added tokens"],
    )
    records = []
    prev: tuple[int, float] | None = None
    for length in lengths:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(length), dev], capture_output=True, text=True, timeout=1800
        )
        if out.returncode != 0:
            table.add(length, float("nan"), f"failed: {out.stderr.strip().splitlines()[-1][:60]}", "-")
            records.append({"L": length, "error": out.stderr[-2000:]})
            continue
        rec = json.loads(out.stdout.strip().splitlines()[-1])
        extra = max(rec["peak_bytes"] - rec["base_bytes"], 0) / 2**20
        marginal = (extra - prev[1]) / ((length - prev[0]) / 1024) if prev else float("nan")
        prev = (length, extra)
        table.add(length, rec["seconds"], extra, marginal)
        records.append({**rec, "peak_above_base_mib": extra, "marginal_mib_per_1k_tokens": marginal})
    return BenchResult(
        NAME,
        [table],
        records,
        params={"device": dev, "lengths": lengths},
        notes=[
            "Linear growth shows as a constant 'added MiB per 1K added tokens'; an L x L attention matrix would",
            "make it grow with L (8 heads x 8192^2 x 4 bytes = 2 GiB per layer at L = 8192).",
        ],
    )
