"""Does a trained video model read its clip's other frames? Score each frame twice: in its own clip, and with
the clip's other frames replaced by the same window of another video.

Usage: ``python -m benchmarks.video_partner_swap CKPT [--split test] [--batch 16]``, for a checkpoint of a clip
model (``rleseg train`` or ``rleseg demo --video``). The data is the checkpoint's own ``data.source`` (synthetic
videos are generated like its training data). Each video of the split is cut into clips of N frames one after
the other and windows of P pixels side by side; every frame of every window is predicted once in its own clip
and once with the other N - 1 frames taken from the next video of the split (same frames, same window). If the
two scores are the same, the model reads each frame alone and an image model would do as well. One view and no
overlap between windows, so the absolute scores are below ``rleseg evaluate``'s (8 views, overlapping windows,
fg-vote); the difference between the two rows is what this measures.

Not part of ``make bench`` (it needs a trained checkpoint); prints a table and writes
``benchmarks/results/video_partner_swap.json``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator

import numpy as np
import torch

from benchmarks.common import BenchResult, Table, print_tables, write_results
from rleseg.data.sample import Sample
from rleseg.metrics.confusion import ConfusionMatrix, segmentation_metrics
from rleseg.segmenters.base import Segmenter
from rleseg.segmenters.loading import load_segmenter
from rleseg.tokenizers.resolution import resize_nearest
from rleseg.training.build import build_sources

NAME = "video_partner_swap"


def clip_pairs(
    videos: list[Sample], frames: int, patch: int
) -> Iterator[tuple[np.ndarray, np.ndarray, int, np.ndarray]]:
    """For every window of every clip and every frame ``f`` of it: ``(clip, swapped, f, gt)``, where ``clip`` is
    ``(N, P, P, 3)`` uint8, ``swapped`` the same clip with every frame but ``f`` taken from the next video (same
    frames and window) and ``gt`` frame ``f``'s ``(P, P)`` labels. Windows the other video does not cover are
    left out."""
    for v, sample in enumerate(videos):
        other = videos[(v + 1) % len(videos)]
        t_len, h, w = sample.mask.shape
        for t in range(0, t_len - frames + 1, frames):
            for y in range(0, h - patch + 1, patch):
                for x in range(0, w - patch + 1, patch):
                    window = (slice(t, t + frames), slice(y, y + patch), slice(x, x + patch))
                    clip, replacement = sample.image[window], other.image[window]
                    if replacement.shape != clip.shape:
                        continue
                    for f in range(frames):
                        swapped = replacement.copy()
                        swapped[f] = clip[f]
                        yield clip, swapped, f, sample.mask[window][f]


def predict_clips(seg: Segmenter, clips: list[np.ndarray], patch: int) -> list[np.ndarray]:
    """The predicted labels ``(N, P, P)`` of each clip ``(N, P, P, 3)`` uint8, one prediction pass."""
    batch = torch.from_numpy(np.stack(clips)).permute(0, 1, 4, 2, 3).contiguous()  # (B, N, 3, P, P)
    with torch.no_grad():
        masks = seg.predict_windows(batch).masks.cpu().numpy()  # (B, N, S, S)
    return [resize_nearest(m, (patch, patch)) for m in masks]


def score_swaps(
    seg: Segmenter, videos: list[Sample], frames: int, patch: int, batch: int = 16
) -> tuple[dict[str, ConfusionMatrix], int]:
    """Confusion matrices of every frame window predicted in its own clip (``"own clip"``) and with the other
    frames from another video (``"other frames swapped"``), and the number of frame windows scored."""
    scores = {name: ConfusionMatrix(len(seg.class_names) - 1) for name in ("own clip", "other frames swapped")}
    pending: list[tuple[np.ndarray, np.ndarray, int, np.ndarray]] = []
    count = 0

    def flush() -> None:
        own_clips = {id(p[0]): p[0] for p in pending}  # a window's N items share their own clip: predict it once
        own = dict(zip(own_clips, predict_clips(seg, list(own_clips.values()), patch), strict=True))
        swapped = predict_clips(seg, [p[1] for p in pending], patch)
        for (clip, _, f, gt), other in zip(pending, swapped, strict=True):
            scores["own clip"].update(gt, own[id(clip)][f])
            scores["other frames swapped"].update(gt, other[f])
        pending.clear()

    for item in clip_pairs(videos, frames, patch):
        pending.append(item)
        count += 1
        if len(pending) == batch:
            flush()
    if pending:
        flush()
    return scores, count


def run(checkpoint: str, split: str = "test", batch: int = 16) -> BenchResult:
    """Dice of every frame in its own clip and with the clip's other frames from another video."""
    seg = load_segmenter(checkpoint).eval()
    cfg = seg.cfg
    if not seg.spec.num_frames or seg.spec.num_frames < 2:
        raise SystemExit(f"{checkpoint}: the model reads single images; this measures models of clips of N >= 2")
    frames, patch = int(seg.spec.num_frames), int(cfg.data.patch_size)
    source = build_sources(cfg).get(split)
    if source is None or len(source) < 2:
        raise SystemExit(f"{checkpoint}: split {split!r} of {cfg.data.source} needs at least 2 videos")
    scores, count = score_swaps(seg, [source[i] for i in range(len(source))], frames, patch, batch)
    table = Table(
        f"Dice (%) of {count} frame windows, {split} split of {cfg.data.source}",
        ["clip", "mean Dice", "class-agnostic Dice"],
        caption="one view, windows side by side: compare the rows, not with rleseg evaluate",
    )
    dice: dict[str, tuple[float, float]] = {}
    for name, cm in scores.items():
        metrics = segmentation_metrics(cm.matrix, seg.class_names[1:])
        dice[name] = (100 * float(metrics["dice"]), 100 * float(metrics["agnostic"]["dice"]))
        table.add(name, *dice[name])
    (own_mean, own_agnostic), (swap_mean, swap_agnostic) = dice.values()
    table.add("difference", swap_mean - own_mean, swap_agnostic - own_agnostic)
    records = [{"clip": name, "mean_dice": m, "agnostic_dice": a} for name, (m, a) in dice.items()]
    return BenchResult(
        NAME, [table], records, params={"checkpoint": checkpoint, "split": split, "frames": frames, "patch": patch}
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse the arguments, run, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("checkpoint", help="a checkpoint of a clip model")
    parser.add_argument("--split", default="test", help="split of the checkpoint's data.source (default test)")
    parser.add_argument("--batch", type=int, default=16, help="clips a prediction pass (default 16)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    result = run(args.checkpoint, args.split, args.batch)
    elapsed = time.perf_counter() - t0
    print_tables(result.tables)
    print(f"   {elapsed:.1f}s; results in {write_results(result, elapsed_s=elapsed)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
