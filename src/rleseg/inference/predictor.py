"""Predict full-size masks for images and videos of any size with a trained model of any family.

An image is resized like the training data (longer side I), cut into windows of the model's input size P
at a chosen stride, every window is predicted by the segmenter (``predict_windows``) at its label size,
brought back to P, merged into the full mask (vote, latest, max, min, or average of class probabilities),
resized back to the image's own size and, if asked, cleaned of small gaps. A video is cut the same way into
clips of N frames every T frames (clip models), predicted frame by frame (image models), or streamed frame
by frame with each window conditioned on its own previous prediction (streaming families).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rleseg.data.patches import crop_window, resize_sample, spatial_windows, temporal_windows
from rleseg.data.sample import Sample
from rleseg.inference.cleanup import close_gaps
from rleseg.inference.stitch import MERGE_RULES, WindowMerger
from rleseg.segmenters.base import Segmenter
from rleseg.segmenters.spec import WindowPrediction
from rleseg.tokenizers.resolution import resize_nearest


@dataclass
class Prediction:
    """A full-size prediction: ``mask`` ``(H, W)`` (video ``(T, H, W)``) class ids, for instance-aware models
    ``instances``, and ``token_lengths`` ``(num_windows,)``: for token models, the generated sequence length of
    every window (EOS included) in the order the windows were predicted (empty for other families)."""

    mask: np.ndarray
    instances: np.ndarray | None
    token_lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


class Predictor:
    """Runs a trained :class:`~rleseg.segmenters.base.Segmenter` over whole images and videos.

    ``stride``: spatial window stride (default: the config's ``data.eval_stride``, else P); ``merge``: how
    overlapping windows merge (``vote``, ``latest``, ``max``, ``min``, ``average``; default: the family's,
    ``average`` of probabilities for per-pixel models, ``vote`` for token models); ``cleanup``: close
    background gaps of up to this many pixels in the full-size masks (default: the config's
    ``generation.cleanup``; 0: off).
    """

    def __init__(
        self,
        segmenter: Segmenter,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 8,
        stride: int | None = None,
        merge: str | None = None,
        cleanup: int | None = None,
    ) -> None:
        self.segmenter = segmenter.to(device).eval()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.cfg = segmenter.cfg
        self.spec = segmenter.spec
        self.stride = stride
        self.merge = merge or segmenter.default_merge
        if self.merge not in MERGE_RULES:
            raise ValueError(f"merge rule must be one of {', '.join(MERGE_RULES)}, got {self.merge!r}")
        self.cleanup = segmenter.cfg.generation.cleanup if cleanup is None else cleanup
        if isinstance(self.cleanup, bool) or int(self.cleanup) != self.cleanup or self.cleanup < 0:
            raise ValueError(f"cleanup must be a gap size in pixels >= 0 (0: off), got {self.cleanup!r}")
        self.num_classes = self.spec.num_classes

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kwargs: object) -> Predictor:
        """Load a checkpoint written by ``rleseg train`` (any family); ValueError naming the file if it is not one."""
        from rleseg.segmenters.loading import load_segmenter

        return cls(load_segmenter(path), **kwargs)  # type: ignore[arg-type]

    @property
    def class_names(self) -> list[str]:
        """Class names, background first."""
        return list(self.spec.class_names)

    @property
    def instance_aware(self) -> bool:
        """Whether predictions come with instance masks."""
        return self.spec.instance_aware

    @property
    def is_video(self) -> bool:
        """Whether the model reads clips of ``num_frames`` frames (videos are then predicted clip by clip)."""
        return self.spec.is_video

    @property
    def num_frames(self) -> int:
        """N: frames per clip (1 for image models)."""
        return self.spec.num_frames or 1

    @torch.no_grad()
    def predict_windows(self, images: torch.Tensor, previous: WindowPrediction | None = None) -> WindowPrediction:
        """Windows ``(B, 3, P, P)`` (clips ``(B, N, 3, P, P)``) uint8 -> the segmenter's prediction, on the CPU."""
        if previous is not None:
            previous = _to(previous, self.device)
        return _to(self.segmenter.predict_windows(images.to(self.device), previous), torch.device("cpu"))

    def predict_image(self, image: np.ndarray) -> Prediction:
        """``(H, W, 3)`` uint8 image -> :class:`Prediction` at ``(H, W)``."""
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.dtype} {image.shape}")
        return self._predict(image, None)

    def predict_video(self, frames: np.ndarray, frame_stride: int | None = None) -> Prediction:
        """``(T, H, W, 3)`` uint8 frames -> :class:`Prediction` with a ``(T, H, W)`` mask (and instances).

        Clip models: clips of N frames start every ``frame_stride`` frames (default: the config's
        ``data.eval_frame_stride``, else N, no overlap; the last clip ends at the last frame), each clip is cut
        into spatial windows like an image, and overlaps are merged per pixel and frame with the merge rule.
        Image models predict every frame on its own; streaming families condition every window on their own
        prediction of it in the previous frame. ``frame_stride`` matters to clip models only.
        """
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected (T, H, W, 3) uint8 frames, got {frames.dtype} {frames.shape}")
        if not self.is_video:
            return self._predict_frames(frames)
        n = self.num_frames
        stride = frame_stride or self.cfg.data.eval_frame_stride or n
        if stride > n:
            raise ValueError(f"frame stride {stride} is larger than the clip length N={n}; frames would be skipped")
        return self._predict(frames, temporal_windows(frames.shape[0], n, stride))

    def _predict_frames(self, frames: np.ndarray) -> Prediction:
        """Frame by frame; a streaming family gets each window's prediction in the previous frame (its
        instance ids are tracks: they are kept as the family wrote them)."""
        previous: list[WindowPrediction] | None = None
        parts: list[Prediction] = []
        for frame in frames:
            if self.spec.streaming:
                pred, previous = self._run(frame, None, previous=previous, keep=True)
            else:
                pred = self._predict(frame, None)
            parts.append(pred)
        instances = [p.instances for p in parts]
        stacked = None if any(i is None for i in instances) else np.stack(instances)  # type: ignore[arg-type]
        lengths = np.concatenate([p.token_lengths for p in parts]) if parts else np.zeros(0, np.int64)
        return Prediction(np.stack([p.mask for p in parts]), stacked, lengths)

    def _predict(self, pixels: np.ndarray, clip_starts: list[int] | None) -> Prediction:
        """:meth:`_run` without streaming state."""
        return self._run(pixels, clip_starts)[0]

    def _run(
        self,
        pixels: np.ndarray,
        clip_starts: list[int] | None,
        *,
        previous: list[WindowPrediction] | None = None,
        keep: bool = False,
    ) -> tuple[Prediction, list[WindowPrediction]]:
        """The one prediction path of images ``(H, W, 3)`` (``clip_starts`` None) and videos ``(T, H, W, 3)``
        (clips of N frames from each start): resize to I, cut windows of P at the stride, predict them in
        batches, merge at the resized size, resize back to the input's size and clean up (``cleanup``).
        ``previous``: each window batch's prediction in the previous frame (streaming families); ``keep``:
        return this call's window batch predictions too (else an empty list)."""
        shape0 = pixels.shape[:-1]  # (H, W) or (T, H, W)
        video = clip_starts is not None
        dummy = Sample(pixels, np.zeros(shape0, np.int64), None, "video" if video else "input")
        sample = resize_sample(dummy, self.cfg.data.image_size)
        shape = sample.mask.shape
        h, w = shape[-2:]
        p = self.cfg.data.patch_size or max(h, w)
        stride = self.stride or self.cfg.data.eval_stride or p
        n = self.num_frames if video else None
        windows = [(t, y, x) for t in (clip_starts or [0]) for y, x in spatial_windows(h, w, p, stride)]
        merger = WindowMerger(shape, self.num_classes, self.merge)
        instances = _InstanceCanvas(shape, offset=not self.spec.streaming) if self.instance_aware else None
        lengths: list[np.ndarray] = []
        kept: list[WindowPrediction] = []
        for k, i in enumerate(range(0, len(windows), self.batch_size)):
            chunk = windows[i : i + self.batch_size]
            crops = [crop_window(sample, y, x, p, t, n).image for t, y, x in chunk]  # (P, P, 3) or (N, P, P, 3)
            batch = torch.from_numpy(np.stack(crops)).movedim(-1, -3).contiguous()  # (B, [N,] 3, P, P)
            out = self.predict_windows(batch, previous[k] if previous is not None else None)
            if keep:
                kept.append(out)
            masks = out.masks.numpy()  # (B, [N,] h, w)
            inst = None if out.instances is None else out.instances.numpy()
            probs = out.extras.get("probs")
            if "lengths" in out.extras:
                lengths.append(out.extras["lengths"].numpy().astype(np.int64))
            for j, (t, y, x) in enumerate(chunk):
                prob = None if probs is None else _at_size(probs[j].float().numpy(), p)
                merger.add(resize_nearest(masks[j], (p, p)), y, x, t, probs=prob)
                if instances is not None and inst is not None:
                    instances.paste(resize_nearest(inst[j], (p, p)), y, x, t)
        mask = resize_nearest(merger.result(), shape0[-2:])
        inst_full = None if instances is None else resize_nearest(instances.canvas, shape0[-2:])
        if self.cleanup:
            mask = close_gaps(mask, self.cleanup)
            inst_full = None if inst_full is None else close_gaps(inst_full, self.cleanup)
        return Prediction(mask, inst_full, np.concatenate(lengths) if lengths else np.zeros(0, np.int64)), kept


def _at_size(probs: np.ndarray, p: int) -> np.ndarray:
    """Class probabilities ``(C + 1, [N,] h, w)`` at the window size ``(..., P, P)`` (nearest)."""
    return probs if probs.shape[-2:] == (p, p) else resize_nearest(probs, (p, p))


def _to(pred: WindowPrediction, device: torch.device) -> WindowPrediction:
    """``pred`` with every tensor on ``device``."""
    inst = None if pred.instances is None else pred.instances.to(device)
    return WindowPrediction(pred.masks.to(device), inst, {k: v.to(device) for k, v in pred.extras.items()})


class _InstanceCanvas:
    """Pastes window instance ids ``(P, P)`` (clips ``(N, P, P)``) into one ``shape`` canvas. With ``offset``,
    each window's ids are offset past all earlier ones so instances of different windows never share an id;
    without (streaming families, whose ids are tracks), ids are pasted as they are. Later windows overwrite
    earlier ones where they overlap."""

    def __init__(self, shape: tuple[int, ...], offset: bool = True) -> None:
        self.canvas = np.zeros(shape, np.int64)
        self.next_id = 0
        self.offset = offset

    def paste(self, ids: np.ndarray, y: int, x: int, t: int = 0) -> None:
        h, w = self.canvas.shape[-2:]
        if self.canvas.ndim == 3:
            ids = ids[: self.canvas.shape[0] - t]
            region = self.canvas[t : t + ids.shape[0], y : y + ids.shape[-2], x : x + ids.shape[-1]]
        else:
            region = self.canvas[y : y + ids.shape[-2], x : x + ids.shape[-1]]
        ids = ids[..., : h - y, : w - x].astype(np.int64)
        region = region[..., : ids.shape[-2], : ids.shape[-1]]
        region[ids > 0] = ids[ids > 0] + (self.next_id if self.offset else 0)
        if self.offset:
            self.next_id += int(ids.max()) if ids.size else 0
