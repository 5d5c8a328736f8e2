"""``benchmarks/video_partner_swap.py``: frames scored in their own clip and with the other frames swapped."""

from __future__ import annotations

import numpy as np
import torch
from benchmarks.video_partner_swap import clip_pairs, score_swaps

from rleseg.data.sample import Sample
from rleseg.metrics.confusion import segmentation_metrics
from rleseg.segmenters.spec import WindowPrediction


def video(t: int, size: int, seed: int, still: bool = False) -> Sample:
    """Labels ``(T, size, size)`` in 0..2 (``still``: the same in every frame) and frames whose red channel shows
    them (label * 100)."""
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, 3, (1 if still else t, size, size)).astype(np.uint8).repeat(t if still else 1, axis=0)
    image = rng.integers(0, 255, (t, size, size, 3), dtype=np.uint8)
    image[..., 0] = mask * 100
    return Sample(image=image, mask=mask, instances=None, name=f"v{seed}")


def test_clip_pairs_swap_every_frame_but_one_and_skip_windows_the_other_video_lacks() -> None:
    a, b, small = video(4, 8, 0), video(4, 8, 1), video(4, 4, 2)
    items = list(clip_pairs([a, b], frames=2, patch=4))
    # 2 videos x 2 clips (frames 0-1, 2-3) x 4 windows x 2 frames
    assert len(items) == 2 * 2 * 4 * 2
    clip, swapped, f, gt = items[3]  # video a, clip 0, window (0, 4), frame 1
    np.testing.assert_array_equal(clip, a.image[0:2, 0:4, 4:8])
    np.testing.assert_array_equal(swapped[1], a.image[1, 0:4, 4:8])
    np.testing.assert_array_equal(swapped[0], b.image[0, 0:4, 4:8])
    np.testing.assert_array_equal(gt, a.mask[1, 0:4, 4:8])
    assert f == 1
    # a's windows that the 4-pixel video does not cover are left out; only window (0, 0) of each clip stays
    assert len(list(clip_pairs([a, small], frames=2, patch=4))) == 2 * 1 * 2 + 2 * 1 * 2


class FirstFrameReader:
    """A fake clip model that labels every frame of a clip with what the clip's first frame shows."""

    class_names = ["background", "a", "b"]

    def predict_windows(self, images: torch.Tensor) -> WindowPrediction:
        first = images[:, 0, 0].long() // 100  # (B, P, P)
        return WindowPrediction(first[:, None].expand(-1, images.shape[1], -1, -1), None, {})


def test_a_model_that_reads_another_frame_loses_when_it_is_swapped() -> None:
    videos = [video(4, 8, 0, still=True), video(4, 8, 1, still=True)]  # frame 1 shows what frame 0 shows
    scores, count = score_swaps(FirstFrameReader(), videos, frames=2, patch=4, batch=5)
    assert count == 2 * 2 * 4 * 2
    total = count * 16  # every pixel of every frame window, in both rows
    assert scores["own clip"].matrix.sum() == scores["other frames swapped"].matrix.sum() == total
    own, swapped = (segmentation_metrics(scores[k].matrix) for k in ("own clip", "other frames swapped"))
    assert own["pix_acc"] == 1.0, "frame 1 is read from frame 0, which shows the same"
    # swapped: frame 0 still exact (it is the frame kept), frame 1 read from another video's frame 0 (~1/3 right)
    assert 0.55 < swapped["pix_acc"] < 0.8


def test_a_model_that_reads_its_own_frame_scores_the_same_either_way() -> None:
    class OwnFrameReader(FirstFrameReader):
        def predict_windows(self, images: torch.Tensor) -> WindowPrediction:
            return WindowPrediction(images[:, :, 0].long() // 100, None, {})

    videos = [video(4, 8, 0), video(4, 8, 1)]
    scores, _ = score_swaps(OwnFrameReader(), videos, frames=2, patch=4)
    np.testing.assert_array_equal(scores["own clip"].matrix, scores["other frames swapped"].matrix)
    assert segmentation_metrics(scores["own clip"].matrix)["pix_acc"] == 1.0
