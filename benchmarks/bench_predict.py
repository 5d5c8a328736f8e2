"""Whole-image prediction speed: token models (demo, cpu-p2s) against the per-pixel Unet baseline (cpu-unet).

One large image (3000 x 3000; ``--quick``: 1024 x 1024), a mosaic of the embedded synthetic cells' test
images at their training size, is predicted by each model through the :class:`~rleseg.inference.Predictor`
at the model's own settings (window P = 128, the config's stride: P for the token models, P/2 for the Unet)
and, for comparison, by the token model in window batches of 8 and by the Unet at stride P. Every run is a
fresh process (spawned one after the other in this run), so its peak resident memory is its own. The time is
split into the encoder (backbone + transformer encoder), the decoder steps (generation with the grammar),
token decoding, and the Predictor's own work (cutting windows, merging, resizing).

Models: trained checkpoints when given (``--demo``, ``--p2s``, ``--unet``: ``last.ckpt`` of ``rleseg train``
runs of the configs), else randomly initialised ones. A random token model gets the mean sequence length of
the image's own windows (tokenized ground truth) as its token budget and EOS is suppressed until the grammar
closes the sequence; the grammar also ends a sequence whose runs reach the end of the mask, which a random
model does early, so its sequences are shorter than real ones (the table shows the lengths actually written:
prefer trained checkpoints). ``--threads``: torch threads per run (on a shared, loaded machine one thread per
process is much faster than torch's default for every model).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import REPO_ROOT, BenchResult, Table, print_tables, write_results
from rleseg.tokenizers.vocab import EOS

NAME = "predict"
CONFIGS = {"demo": "configs/demo.yaml", "cpu-p2s": "configs/cpu-p2s.yaml", "cpu-unet": "configs/cpu-unet.yaml"}
TILE = 256  # the synthetic cells' image size in the demo config


def mosaic(side: int, num_tiles: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """``(side, side, 3)`` uint8 image and ``(side, side)`` labels tiled from synthetic test images of 256."""
    from rleseg.data.synthetic import SyntheticCells

    source = SyntheticCells("test", num_images=num_tiles, size=TILE)
    tiles = [source[i] for i in range(num_tiles)]
    n = -(-side // TILE)
    pick = [[tiles[(r * n + c) % num_tiles] for c in range(n)] for r in range(n)]
    image = np.concatenate([np.concatenate([t.image for t in row], 1) for row in pick], 0)[:side, :side]
    labels = np.concatenate([np.concatenate([t.mask for t in row], 1) for row in pick], 0)[:side, :side]
    return np.ascontiguousarray(image), np.ascontiguousarray(labels)


def realistic_length(config: str, labels: np.ndarray) -> int:
    """Mean token count (EOS included) of the tokenized ground-truth windows of ``labels`` under ``config``."""
    from rleseg.config import load_config
    from rleseg.data.patches import spatial_windows
    from rleseg.segmenters.pix2seq import build_tokenizer
    from rleseg.tokenizers.resolution import subsample

    cfg = load_config(REPO_ROOT / config)
    tok = build_tokenizer(cfg, int(labels.max()))
    p = cfg.data.patch_size or TILE
    lengths = []
    for y, x in spatial_windows(*labels.shape, p, cfg.data.eval_stride or p):
        window = np.zeros((p, p), labels.dtype)
        crop = labels[y : y + p, x : x + p]
        window[: crop.shape[0], : crop.shape[1]] = crop
        lengths.append(len(tok.encode(subsample(window, p // tok.height))))
    return int(round(float(np.mean(lengths))))


def _timed(owner: Any, name: str, totals: dict[str, float]) -> None:
    """Replace ``owner.name`` (a bound method) by a wrapper that adds its seconds to ``totals[name]``."""
    inner: Callable[..., Any] = getattr(owner, name)
    totals[name] = 0.0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - t0

    setattr(owner, name, wrapper)


def _one_run(spec: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: build the model, predict the mosaic once (after a small warm-up), return times."""
    from rleseg.config import load_config
    from rleseg.inference.predictor import Predictor
    from rleseg.segmenters.loading import load_segmenter
    from rleseg.segmenters.registry import segmenter_class

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    image, _ = mosaic(spec["side"])
    if spec["checkpoint"]:
        seg = load_segmenter(spec["checkpoint"])
    else:
        torch.manual_seed(0)
        cfg = load_config(REPO_ROOT / CONFIGS[spec["model"]])
        if spec["budget"]:
            cfg.tokenizer.max_len = spec["budget"]
        seg = segmenter_class(cfg.model.family).create(cfg, ["background", "ipsc", "dfc"])
        if seg.tokenizer is not None:  # no early EOS: the grammar closes every sequence at the budget
            with torch.no_grad():
                seg.model.head.bias[EOS] = -1e4
    predictor = Predictor(seg, device="auto", batch_size=spec["batch_size"], stride=spec["stride"])
    predictor.predict_image(image[:TILE, :TILE])  # warm-up: lazy initialisation, first allocations
    totals: dict[str, float] = {}
    _timed(predictor, "predict_windows", totals)
    token = seg.tokenizer is not None
    if token:
        _timed(seg, "generate_tokens", totals)
        _timed(seg.model, "encode", totals)
    if predictor.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    rss0 = _memory_mb("VmRSS")
    _reset_peak()
    t0 = time.perf_counter()
    pred = predictor.predict_image(image)
    if predictor.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    rss1 = _memory_mb("VmHWM")
    model_s = totals["predict_windows"]
    parts = {"predictor (cut, merge, resize)": seconds - model_s}
    if token:
        parts["encoder"] = totals["encode"]
        parts["decoder steps"] = totals["generate_tokens"] - totals["encode"]
        parts["token decode"] = model_s - totals["generate_tokens"]
    else:
        parts["network"] = model_s
    lengths = pred.token_lengths
    return {
        **{k: v for k, v in spec.items() if k != "side"},
        "family": seg.family,
        "device": str(predictor.device),
        "batch_size": predictor.batch_size,
        "stride": predictor.stride or seg.cfg.data.eval_stride or seg.cfg.data.patch_size,
        "windows": int(lengths.size) if token else _num_windows(predictor, image),
        "seconds": seconds,
        "parts_s": parts,
        "mean_tokens": float(lengths.mean()) if lengths.size else None,
        "max_tokens": int(lengths.max()) if lengths.size else None,
        "peak_rss_mb": rss1,
        "prediction_peak_rise_mb": rss1 - rss0,
        "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if predictor.device.type == "cuda" else None,
    }


def _memory_mb(field: str) -> float:
    """This process's resident memory in MB: ``VmRSS`` (now) or ``VmHWM`` (peak since start or the last
    :func:`_reset_peak`), from /proc (Linux); elsewhere the peak from getrusage (which a spawned process
    inherits from its parent as a floor)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    """Reset the peak resident memory (VmHWM) to the current one, where Linux allows it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _num_windows(predictor: Any, image: np.ndarray) -> int:
    return len(predictor._job(image, None))


def run(quick: bool = False, checkpoints: dict[str, str] | None = None, threads: int | None = None) -> BenchResult:
    """Predict the mosaic with every model, each in its own process (``threads``: torch threads in each, default
    torch's), and tabulate speed and memory."""
    checkpoints = checkpoints or {}
    side = 1024 if quick else 3000
    _, labels = mosaic(side)
    budget = {m: realistic_length(CONFIGS[m], labels) for m in ("demo", "cpu-p2s")}
    runs = [
        ("demo", None, None),
        ("demo", 8, None),
        ("cpu-p2s", None, None),
        ("cpu-unet", None, None),
        ("cpu-unet", None, 128),
    ]
    ctx = mp.get_context("spawn")
    records = []
    for model, batch, stride in runs:
        spec = {
            "model": model,
            "checkpoint": checkpoints.get(model),
            "budget": None if checkpoints.get(model) or model == "cpu-unet" else budget[model],
            "batch_size": batch,
            "stride": stride,
            "side": side,
            "threads": threads,
        }
        with ctx.Pool(1) as pool:
            records.append(pool.apply(_one_run, (spec,)))
    mp_ = side * side / 1e6
    unet = next(r for r in records if r["model"] == "cpu-unet" and r["stride"] != 128)
    speed = Table(
        f"Prediction of one {side} x {side} image ({mp_:.1f} megapixels), one process per row, same run, "
        f"{threads or torch.get_num_threads()} torch threads",
        [
            "model",
            "weights",
            "batch",
            "stride",
            "windows",
            "tokens mean/max",
            "s",
            "windows/s",
            "s/MP",
            "x Unet",
            "peak MB",
            "rise MB",
        ],
        caption="x Unet: seconds / the cpu-unet row at its own stride (<1: faster than the Unet). peak MB: the "
        "process's peak resident memory during the prediction (model and image included); rise MB: that peak "
        "minus the resident memory just before.",
    )
    where = Table("Where the time goes (seconds)", ["model", "batch", "stride", "part", "s", "share"])
    for r in records:
        tokens = "-" if r["mean_tokens"] is None else f"{r['mean_tokens']:.0f}/{r['max_tokens']}"
        weights = "trained" if r["checkpoint"] else (f"random, L={r['budget']}" if r["budget"] else "random")
        speed.add(
            r["model"], weights, r["batch_size"], r["stride"], r["windows"], tokens, r["seconds"],
            r["windows"] / r["seconds"], r["seconds"] / mp_, f"{r['seconds'] / unet['seconds']:.2f}",
            r["peak_rss_mb"], r["prediction_peak_rise_mb"],
        )  # fmt: skip
        for part, sec in r["parts_s"].items():
            where.add(r["model"], r["batch_size"], r["stride"], part, sec, f"{sec / r['seconds']:.0%}")
    return BenchResult(
        NAME,
        [speed, where],
        records,
        params={"side": side, "quick": quick, "checkpoints": checkpoints, "budgets": budget, "threads": threads},
        notes=["Goal of issue 14: the demo model at most 3x the Unet's time on a 3000 x 3000 image."],
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.bench_predict [--quick] [--demo CKPT] [--p2s CKPT] [--unet CKPT]``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a 1024 x 1024 image instead of 3000 x 3000")
    for flag, model in (("--demo", "demo"), ("--p2s", "cpu-p2s"), ("--unet", "cpu-unet")):
        parser.add_argument(flag, type=Path, default=None, metavar="CKPT", help=f"trained {model} checkpoint")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per run (default: torch's)")
    args = parser.parse_args(argv)
    given = {"demo": args.demo, "cpu-p2s": args.p2s, "cpu-unet": args.unet}
    t0 = time.perf_counter()
    result = run(args.quick, {k: str(v) for k, v in given.items() if v is not None}, args.threads)
    print_tables(result.tables)
    for note in result.notes:
        print(f"  note: {note}")
    print(f"results in {write_results(result, elapsed_s=time.perf_counter() - t0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
