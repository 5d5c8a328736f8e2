"""Predict full-size masks for images and videos of any size with a trained model of any family.

An image is resized like the training data (longer side I), cut into windows of the model's input size P
at a chosen stride, every window is predicted by the segmenter (``predict_windows``) at its label size,
brought back to P, merged into the full mask (vote, fg-vote, latest, max, min, or average of class probabilities),
resized back to the image's own size and, if asked, cleaned of small gaps. A video is cut the same way into
clips of N frames every T frames (clip models), predicted frame by frame (image models), or streamed frame
by frame with each window conditioned on its own previous prediction (streaming families).

Windows are predicted in batches of ``batch_size`` that run across window, frame and image boundaries (one
generation batch for many windows of many images: a token model's per-step cost is shared, and its finished
sequences leave the batch). Only the images whose windows are in the current batch are held at full size,
so memory stays bounded by the batch size and the largest image, whatever the number of images.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from rleseg.data.patches import temporal_windows
from rleseg.data.sample import Sample
from rleseg.inference.stitch import MERGE_RULES
from rleseg.inference.track_linker import TrackLinker
from rleseg.inference.views import VIEW_RULES, check_views, predict_views
from rleseg.inference.window_job import JobSettings, Prediction, WindowJob
from rleseg.segmenters.base import Segmenter
from rleseg.segmenters.spec import WindowPrediction

__all__ = ["ImageForClipModelError", "Prediction", "Predictor", "default_batch_size", "resolve_device"]

PIXEL_BATCH = 8  # windows per forward pass of per-pixel models (their activations are large)
TOKEN_BATCH_FRAMES = 256  # frames per generation batch of token models (clips of N frames: 256 // N clips)


class ImageForClipModelError(ValueError):
    """A single image given to a model that reads clips of N frames (the data, not one sample, is wrong)."""


def default_batch_size(segmenter: Segmenter) -> int:
    """Windows per batch when none is given: large for token models (one generation step costs about the
    same for 8 or 256 windows on a CPU, and finished windows leave the batch), small for per-pixel models."""
    if segmenter.tokenizer is None:
        return PIXEL_BATCH
    return max(1, TOKEN_BATCH_FRAMES // (segmenter.spec.num_frames or 1))


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"``: the GPU when there is one, else the CPU; any other value as torch reads it."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Predictor:
    """Runs a trained :class:`~rleseg.segmenters.base.Segmenter` over whole images and videos.

    ``device``: ``auto`` (the GPU when present), ``cpu``, ``cuda`` ...; ``batch_size``: windows per
    forward pass, across images, each view counting as one (default: :func:`default_batch_size`); ``stride``:
    spatial window stride (default: the config's ``data.eval_stride``, else P); ``merge``: how overlapping
    windows merge (``vote``, ``fg-vote``, ``latest``, ``max``, ``min``, ``average``; default: the family's,
    ``average`` of probabilities for per-pixel models, ``fg-vote`` for token models); ``cleanup``: close
    background gaps of up to this many pixels in the full-size masks (default: the config's
    ``generation.cleanup``; 0: off); ``views``: test-time views per window (1, 2, 4 or 8 flips and quarter
    turns merged by ``merge``; default: the config's ``data.eval_views``, or 1 when ``merge`` cannot combine
    views; :mod:`rleseg.inference.views`), not for instance-aware or streaming models; ``earliest_start``:
    token models' ``generation.earliest_start`` (default: the config's; 0: off; the model is changed in place).
    """

    def __init__(
        self,
        segmenter: Segmenter,
        *,
        device: str | torch.device = "auto",
        batch_size: int | None = None,
        stride: int | None = None,
        merge: str | None = None,
        cleanup: int | None = None,
        views: int | None = None,
        earliest_start: float | None = None,
    ) -> None:
        if earliest_start is not None:
            if isinstance(earliest_start, bool) or not 0 <= earliest_start <= 1:
                raise ValueError(f"earliest_start must be in [0, 1] (0: off), got {earliest_start!r}")
            segmenter.set_earliest_start(float(earliest_start) or None)
        self.device = resolve_device(device)
        self.segmenter = segmenter.to(self.device).eval()
        self.batch_size = batch_size or default_batch_size(segmenter)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
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
        if views is None:  # the config's, where the merge rule can combine views (an explicit rule wins)
            views = self.cfg.data.eval_views if self.merge in VIEW_RULES else 1
        self.views = views
        check_views(self.views, self.merge)
        if self.views > 1 and (self.spec.instance_aware or self.spec.streaming):
            kind = "instance-aware" if self.spec.instance_aware else "streaming"
            raise ValueError(
                f"test-time views (data.eval_views={self.views}) merge class labels, but this {kind} model's "
                "instance ids cannot be merged across views: use 1 view"
            )
        self.window_batch = max(1, self.batch_size // self.views)  # windows per forward pass, each in all views
        self.class_weights = segmenter.vote_weights()  # (C + 1,) of fg-vote's class choice (None: equal votes)

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
        """Windows ``(B, 3, P, P)`` (clips ``(B, N, 3, P, P)``) uint8 -> the segmenter's prediction, on the CPU
        (with test-time views: merged over them)."""
        if previous is not None:
            previous = _to(previous, self.device)
        if self.views > 1:
            out = predict_views(
                self.segmenter.predict_windows,
                images.to(self.device),
                self.views,
                self.merge,
                self.num_classes,
                self.class_weights,
            )
            return _to(out, torch.device("cpu"))
        return _to(self.segmenter.predict_windows(images.to(self.device), previous), torch.device("cpu"))

    def predict_sample(self, sample: Sample, frame_stride: int | None = None) -> Prediction:
        """One :class:`Sample`: an image ``(H, W, 3)`` or a video ``(T, H, W, 3)`` (clip by clip, frame by frame
        or streamed: the model's kind; ``frame_stride`` as :meth:`predict_video`). ImageForClipModelError for an
        image given to a clip model."""
        if sample.is_video:
            return self.predict_video(sample.image, frame_stride)
        if self.is_video:
            raise ImageForClipModelError(
                f"{sample.name}: the model takes video clips of {self.num_frames} frames, but the data holds "
                "single images"
            )
        return self.predict_image(sample.image)

    def predict_image(self, image: np.ndarray) -> Prediction:
        """``(H, W, 3)`` uint8 image -> :class:`Prediction` at ``(H, W)``."""
        return next(self.predict_images([image]))

    def predict_images(self, images: Iterable[np.ndarray]) -> Iterator[Prediction]:
        """``(H, W, 3)`` uint8 images (of any sizes) -> their predictions, in order, each as soon as its last
        window is predicted. Windows of consecutive images share batches; an image is read from ``images``
        only when its windows are needed."""
        return self._run_jobs(self._job(_checked_image(image), None) for image in images)

    def predict_video(self, frames: np.ndarray, frame_stride: int | None = None) -> Prediction:
        """``(T, H, W, 3)`` uint8 frames -> :class:`Prediction` with a ``(T, H, W)`` mask (and instances).

        Clip models: clips of N frames start every ``frame_stride`` frames (default: the config's
        ``data.eval_frame_stride``, else N, no overlap; the last clip ends at the last frame), each clip is cut
        into spatial windows like an image, and overlaps are merged per pixel and frame with the merge rule.
        Image models predict every frame on its own (windows of all frames share batches); streaming families
        condition every window on their own prediction of it in the previous frame. ``frame_stride`` matters
        to clip models only.
        """
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected (T, H, W, 3) uint8 frames, got {frames.dtype} {frames.shape}")
        if not self.is_video:
            if self.spec.streaming:
                return _stack_frames(self._stream(frames))
            return _stack_frames(list(self.predict_images(frames)))
        n = self.num_frames
        stride = frame_stride or self.cfg.data.eval_frame_stride or n
        if stride > n:
            raise ValueError(f"frame stride {stride} is larger than the clip length N={n}; frames would be skipped")
        return next(self._run_jobs([self._job(frames, temporal_windows(frames.shape[0], n, stride))]))

    def _stream(self, frames: np.ndarray) -> list[Prediction]:
        """Frame by frame; a streaming family gets each window batch's prediction in the previous frame. Its
        instance ids continue those of the same window in the previous frame: each frame's windows are stitched
        like an image's, then a :class:`TrackLinker` names the stitched instances by the tracks their window ids
        carried."""
        previous: list[WindowPrediction] | None = None
        parts: list[Prediction] = []
        linker = TrackLinker()
        for frame in frames:
            kept: list[WindowPrediction] = []
            job = self._job(frame, None)
            part = next(self._run_jobs([job], previous=previous, kept=kept))
            if part.instances is not None and job.canvas is not None:
                part = replace(part, instances=linker.link(part.instances, job.canvas.window_ids))
            parts.append(part)
            previous = kept
        return parts

    def _job(self, pixels: np.ndarray, clip_starts: list[int] | None) -> WindowJob:
        """The windows of an image ``(H, W, 3)`` or of a video's clips ``(T, H, W, 3)``."""
        d = self.cfg.data
        settings = JobSettings(
            image_size=d.image_size,
            patch=d.patch_size,
            stride=self.stride or d.eval_stride,
            num_frames=self.num_frames,
            num_classes=self.num_classes,
            merge=self.merge,
            instances=self.instance_aware,
            cleanup=int(self.cleanup),
            class_weights=self.class_weights,
        )
        return WindowJob(pixels, clip_starts, settings)

    def _run_jobs(
        self,
        jobs: Iterable[WindowJob],
        *,
        previous: list[WindowPrediction] | None = None,
        kept: list[WindowPrediction] | None = None,
    ) -> Iterator[Prediction]:
        """Predict the windows of ``jobs`` in order, ``batch_size`` at a time across jobs, and yield each job's
        :class:`Prediction` once its last window is in. ``previous``: the k-th batch's prediction in the
        previous frame (streaming, one job); ``kept``: a list that receives every batch's prediction."""
        open_jobs: deque[WindowJob] = deque()
        batch: list[tuple[WindowJob, int]] = []
        k = 0
        for job in jobs:
            open_jobs.append(job)
            for i in range(len(job)):
                batch.append((job, i))
                if len(batch) == self.window_batch:
                    self._predict_batch(batch, previous[k] if previous is not None else None, kept)
                    batch, k = [], k + 1
                    while open_jobs and open_jobs[0].complete:
                        yield open_jobs.popleft().result()
        if batch:
            self._predict_batch(batch, previous[k] if previous is not None else None, kept)
        while open_jobs:
            yield open_jobs.popleft().result()

    def _predict_batch(
        self,
        batch: list[tuple[WindowJob, int]],
        previous: WindowPrediction | None,
        kept: list[WindowPrediction] | None,
    ) -> None:
        """Cut, predict and hand back to their jobs the windows ``(job, index)`` of one batch."""
        crops = [job.crop(i) for job, i in batch]  # (P, P, 3) or (N, P, P, 3)
        images = torch.from_numpy(np.stack(crops)).movedim(-1, -3).contiguous()  # (B, [N,] 3, P, P)
        out = self.predict_windows(images, previous)
        if kept is not None:
            kept.append(out)
        masks = out.masks.numpy()  # (B, [N,] h, w)
        inst = None if out.instances is None else out.instances.numpy()
        probs = out.extras.get("probs")
        lengths = out.extras["lengths"].tolist() if "lengths" in out.extras else None
        for j, (job, i) in enumerate(batch):
            if i != job.added:
                raise RuntimeError(f"window {i} of a job predicted out of order (expected {job.added})")
            job.add(
                masks[j],
                None if inst is None else inst[j],
                None if probs is None else probs[j].float().numpy(),
                None if lengths is None else int(lengths[j]),
            )


def _checked_image(image: np.ndarray) -> np.ndarray:
    """``image`` if it is an ``(H, W, 3)`` uint8 array, else ValueError."""
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.dtype} {image.shape}")
    return image


def _stack_frames(parts: list[Prediction]) -> Prediction:
    """Per-frame predictions -> one video prediction ``(T, H, W)``."""
    instances = [p.instances for p in parts]
    stacked = None if any(i is None for i in instances) else np.stack(instances)  # type: ignore[arg-type]
    lengths = np.concatenate([p.token_lengths for p in parts]) if parts else np.zeros(0, np.int64)
    return Prediction(np.stack([p.mask for p in parts]), stacked, lengths)


def _to(pred: WindowPrediction, device: torch.device) -> WindowPrediction:
    """``pred`` with every tensor on ``device``."""
    inst = None if pred.instances is None else pred.instances.to(device)
    return WindowPrediction(pred.masks.to(device), inst, {k: v.to(device) for k, v in pred.extras.items()})
