"""Tokenizer speed: our binary run-length encode/decode against pycocotools' C implementation, and every
registered scheme's encode + decode on one multi-class mask.

Fair comparison: pycocotools needs a Fortran-ordered uint8 array, so its encode is timed both on a
ready Fortran array and with the ``np.asfortranarray`` conversion of the C-ordered mask included (our
tokenizer takes the C-ordered mask and walks it column by column itself). Ours is timed as the full
``binary`` tokenizer ``encode()`` (order="col": runs to tokens, EOS included, input validated) and as the
raw run extraction: ``extract_runs`` on the column-major vector (the Fortran array's memory, like
pycocotools' input) and ``extract_foreground_runs`` straight from the C-ordered mask. Decoding: ours is
``decode()`` of our tokens, theirs ``pycocotools.mask.decode`` of their compressed RLE. A third table
times the COCO interop functions (``mask_to_coco`` / ``coco_to_mask``) against pycocotools on the same masks.
All functions of one row are timed interleaved (see ``benchmarks.common.time_interleaved``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common import BenchResult, Table, run_standalone, time_interleaved
from rleseg.tokenizers import create_tokenizer, list_tokenizers
from rleseg.tokenizers.coco import coco_to_mask, mask_to_coco
from rleseg.tokenizers.runs import extract_foreground_runs, extract_runs, flattening_2d

NAME = "tokenizer"
SIZES = (80, 160, 640)
KINDS = ("blob", "noisy-blob", "noise")


def blob_labels(shape: tuple[int, ...], rng: np.random.Generator, num_blobs: int = 6) -> np.ndarray:
    """``shape`` (H, W) int array: 0 background, blob k (1..num_blobs) a random ellipse; later blobs on top."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    out = np.zeros(shape, dtype=np.int64)
    for k in range(1, num_blobs + 1):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(0.05, 0.25) * h, rng.uniform(0.05, 0.25) * w
        out[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1] = k
    return out


def binary_mask(kind: str, s: int, rng: np.random.Generator) -> np.ndarray:
    """``(s, s)`` uint8 0/1 mask, C-ordered: ``blob`` (a few ellipses), ``noisy-blob`` (5% of pixels
    flipped) or ``noise`` (every pixel foreground with probability 1/2: the worst case for RLE)."""
    if kind == "noise":
        return (rng.random((s, s)) < 0.5).astype(np.uint8)
    mask = (blob_labels((s, s), rng) > 0).astype(np.uint8)
    if kind == "noisy-blob":
        mask ^= (rng.random((s, s)) < 0.05).astype(np.uint8)
    return mask


def _coco_rows(quick: bool, rng: np.random.Generator) -> tuple[list[Table], list[dict[str, Any]]]:
    import pycocotools.mask as coco_mask

    enc = Table(
        "encode: binary RLE vs pycocotools (µs per mask, best of interleaved rounds)",
        ["S", "mask", "runs", "coco F", "to F", "coco C", "encode()", "extract", "fg runs", "xC", "xF", "xF raw"],
        caption="coco F: pycocotools encode of a ready Fortran array; to F: np.asfortranarray alone; coco C: "
        "both (the C-ordered mask's cost). encode(): our binary tokenizer, order='col', C-ordered mask -> "
        "tokens. extract: extract_runs on the column-major vector (the Fortran array's memory). fg runs: "
        "extract_foreground_runs from the C-ordered mask. Speed-ups (>1: ours faster): xC = coco C / "
        "encode(), xF = coco F / encode(), xF raw = coco F / extract.",
    )
    dec = Table(
        "decode: binary RLE vs pycocotools (µs per mask, best of interleaved rounds)",
        ["S", "mask", "runs", "coco", "decode()", "speed-up"],
        caption="coco: pycocotools decode of its compressed RLE (a Fortran-ordered mask); decode(): our "
        "binary tokenizer, tokens -> C-ordered mask. speed-up = coco / decode() (>1: ours faster).",
    )
    interop = Table(
        "COCO interop: rleseg.tokenizers.coco vs pycocotools (µs per mask, best of interleaved rounds)",
        ["S", "mask", "coco encode C", "mask_to_coco", "speed-up", "coco decode", "coco_to_mask", "speed-up"],
        caption="Same input, same output: mask_to_coco gives pycocotools' RLE bytes from the C-ordered mask "
        "(compression by pycocotools' C code), coco_to_mask a C-ordered mask (pycocotools: Fortran-ordered).",
    )
    records: list[dict[str, Any]] = []
    sizes = SIZES[:2] if quick else SIZES
    for s in sizes:
        tok = create_tokenizer("binary", mask_size=s, order="col")
        flattening = flattening_2d((s, s), "col")
        for kind in KINDS:
            mask = binary_mask(kind, s, rng)
            fmask = np.asfortranarray(mask)
            colvec = fmask.reshape(-1, order="F")  # a view: the Fortran array's memory, column by column
            rle = coco_mask.encode(fmask)
            tokens = tok.encode(mask)
            # the comparison is only meaningful if both sides agree
            assert np.array_equal(tok.decode(tokens), mask) and np.array_equal(coco_mask.decode(rle), mask)
            starts, lengths, _ = extract_runs(colvec, s)
            assert int(lengths.sum()) == int(coco_mask.area(rle)) == int(mask.sum())
            assert mask_to_coco(mask) == rle and np.array_equal(coco_to_mask(rle), mask)
            funcs: dict[str, Callable[[], object]] = {
                "coco_encode_f": lambda fmask=fmask: coco_mask.encode(fmask),
                "asfortranarray": lambda mask=mask: np.asfortranarray(mask),
                "coco_encode_c": lambda mask=mask: coco_mask.encode(np.asfortranarray(mask)),
                "ours_encode": lambda mask=mask, tok=tok: tok.encode(mask),
                "ours_extract_runs": lambda colvec=colvec, s=s: extract_runs(colvec, s),
                "ours_fg_runs": lambda mask=mask, f=flattening: extract_foreground_runs(mask, f),
                "coco_decode": lambda rle=rle: coco_mask.decode(rle),
                "ours_decode": lambda tokens=tokens, tok=tok: tok.decode(tokens),
                "mask_to_coco": lambda mask=mask: mask_to_coco(mask),
                "coco_to_mask": lambda rle=rle: coco_to_mask(rle),
            }
            t = time_interleaved(funcs, repeat=5 if quick else 25, target_s=0.01 if quick else 0.006)
            us = {k: v.min_us for k, v in t.items()}
            enc.add(
                s,
                kind,
                int(starts.size),
                us["coco_encode_f"],
                us["asfortranarray"],
                us["coco_encode_c"],
                us["ours_encode"],
                us["ours_extract_runs"],
                us["ours_fg_runs"],
                us["coco_encode_c"] / us["ours_encode"],
                us["coco_encode_f"] / us["ours_encode"],
                us["coco_encode_f"] / us["ours_extract_runs"],
            )
            dec_speedup = us["coco_decode"] / us["ours_decode"]
            dec.add(s, kind, int(starts.size), us["coco_decode"], us["ours_decode"], dec_speedup)
            interop.add(
                s,
                kind,
                us["coco_encode_c"],
                us["mask_to_coco"],
                us["coco_encode_c"] / us["mask_to_coco"],
                us["coco_decode"],
                us["coco_to_mask"],
                us["coco_decode"] / us["coco_to_mask"],
            )
            records.append(
                {
                    "table": "coco",
                    "size": s,
                    "mask": kind,
                    "runs": int(starts.size),
                    "timings": {k: v.to_dict() for k, v in t.items()},
                    "speedups": {
                        "encode_vs_coco_c": us["coco_encode_c"] / us["ours_encode"],
                        "encode_vs_coco_f": us["coco_encode_f"] / us["ours_encode"],
                        "extract_runs_vs_coco_f": us["coco_encode_f"] / us["ours_extract_runs"],
                        "fg_runs_vs_coco_c": us["coco_encode_c"] / us["ours_fg_runs"],
                        "decode": us["coco_decode"] / us["ours_decode"],
                        "mask_to_coco_vs_coco_c": us["coco_encode_c"] / us["mask_to_coco"],
                        "coco_to_mask_vs_coco_decode": us["coco_decode"] / us["coco_to_mask"],
                    },
                }
            )
    return [enc, dec, interop], records


def scheme_input(tok: Any, rng: np.random.Generator) -> Any:
    """A blob-like input for ``tok``: ``(H, W)`` classes, ``(N, H, W)`` for video, ``(mask, instances)`` for iw."""
    shape = tok.mask_shape
    frames = [blob_labels(shape[-2:], rng, num_blobs=8) for _ in range(shape[0] if len(shape) == 3 else 1)]
    blobs = np.stack(frames) if len(shape) == 3 else frames[0]
    classes = np.where(blobs > 0, (blobs - 1) % tok.num_classes + 1, 0).astype(np.uint8)
    if tok.instance_aware:  # class 1 is stuff (no instance); the other blobs are one instance each
        instances = np.where(classes > 1, blobs, 0).astype(np.int32)
        return classes, instances
    return classes


def _scheme_rows(quick: bool, rng: np.random.Generator) -> tuple[Table, list[dict[str, Any]]]:
    s, num_classes = 80, 3
    table = Table(
        f"every scheme at S={s}, {num_classes} classes (binary: 1), blob-like mask (µs per call)",
        ["scheme", "input shape", "tokens", "encode best", "encode median", "decode best", "decode median"],
        caption="video schemes: 2 frames; iw: (mask, instances) with class 1 as stuff",
    )
    records: list[dict[str, Any]] = []
    for name in list_tokenizers():
        tok = create_tokenizer(name, mask_size=s, num_classes=1 if name == "binary" else num_classes)
        x = scheme_input(tok, rng)
        tokens = tok.encode(x)
        funcs: dict[str, Callable[[], object]] = {
            "encode": lambda tok=tok, x=x: tok.encode(x),
            "decode": lambda tok=tok, tokens=tokens: tok.decode(tokens),
        }
        t = time_interleaved(funcs, repeat=5 if quick else 25, target_s=0.01 if quick else 0.006)
        table.add(
            name,
            "x".join(map(str, tok.mask_shape)),
            int(tokens.size),
            t["encode"].min_us,
            t["encode"].median_us,
            t["decode"].min_us,
            t["decode"].median_us,
        )
        records.append(
            {
                "table": "schemes",
                "scheme": name,
                "tokenizer": tok.to_dict(),
                "tokens": int(tokens.size),
                "timings": {k: v.to_dict() for k, v in t.items()},
            }
        )
    return table, records


def run(quick: bool = False) -> BenchResult:
    """Both tables; ``quick`` drops S=640 and shortens the rounds."""
    rng = np.random.default_rng(0)
    coco_tables, coco_records = _coco_rows(quick, rng)
    scheme_table, scheme_records = _scheme_rows(quick, rng)
    return BenchResult(
        NAME,
        [*coco_tables, scheme_table],
        coco_records + scheme_records,
        params={"sizes": list(SIZES[:2] if quick else SIZES), "kinds": list(KINDS), "quick": quick},
        notes=["Goal of issue 14: binary encode (xC) and decode at least 1.0x pycocotools at S = 640 on blob masks."],
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.bench_tokenizer [--quick]``: run, print the tables and write the JSON results."""
    return run_standalone(run, __doc__, "S = 80 and 160 only, shorter rounds", argv)


if __name__ == "__main__":
    sys.exit(main())
