"""Predict full-size masks for images of any size with a trained checkpoint.

An image is resized like the training data (longer side I), cut into windows of the model's input size P
at a chosen stride, every window's tokens are generated and decoded at the mask size S, upsampled back to
P, merged into the full mask (vote, latest, max or min) and resized back to the image's own size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rleseg.data.patches import crop_window, resize_sample, spatial_windows, temporal_windows
from rleseg.data.sample import Sample
from rleseg.inference.stitch import WindowMerger
from rleseg.tokenizers.resolution import resize_nearest
from rleseg.training.task import Pix2SeqTask


@dataclass
class Prediction:
    """A full-size prediction: ``mask`` ``(H, W)`` (video ``(T, H, W)``) class ids, for ``iw`` models
    ``instances``, and ``token_lengths`` ``(num_windows,)``: the generated sequence length of every window
    (EOS included), in the order the windows were predicted."""

    mask: np.ndarray
    instances: np.ndarray | None
    token_lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


class Predictor:
    """Runs a trained :class:`Pix2SeqTask` over whole images (sliding windows + stitching)."""

    def __init__(
        self,
        task: Pix2SeqTask,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 8,
        stride: int | None = None,
        merge: str = "vote",
    ) -> None:
        self.task = task.to(device).eval()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.cfg = task.cfg
        self.stride = stride
        self.merge = merge
        self.num_classes = len(task.class_names) - 1
        self._lengths: list[np.ndarray] = []

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kwargs: object) -> Predictor:
        """Load a checkpoint written by ``rleseg train``; ValueError naming the file if it is not one."""
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"checkpoint {p} does not exist")
        try:
            task = Pix2SeqTask.load_from_checkpoint(p, map_location="cpu")
        except (KeyError, TypeError, RuntimeError, EOFError) as err:
            raise ValueError(f"{p} is not an rleseg checkpoint ({type(err).__name__}: {err})") from None
        return cls(task, **kwargs)  # type: ignore[arg-type]

    @property
    def class_names(self) -> list[str]:
        """Class names, background first."""
        return list(self.task.class_names)

    @torch.no_grad()
    def predict_windows(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Windows ``(B, 3, P, P)`` (clips ``(B, N, 3, P, P)``) uint8 -> masks ``(B, *mask_shape)`` at the mask
        size, and instances (``iw``) or None. Lengths of the generated sequences are appended to
        ``self._lengths``."""
        masks, inst, lengths = self.task.predict_masks_with_lengths(images.to(self.device))
        self._lengths.append(lengths.cpu().numpy().astype(np.int64))
        return masks.cpu().numpy(), None if inst is None else inst.cpu().numpy()

    def _take_lengths(self) -> np.ndarray:
        """The lengths gathered since the last call ``(num_windows,)``; resets the list."""
        out = np.concatenate(self._lengths) if self._lengths else np.zeros(0, np.int64)
        self._lengths = []
        return out

    def predict_image(self, image: np.ndarray) -> Prediction:
        """``(H, W, 3)`` uint8 image -> :class:`Prediction` at ``(H, W)``."""
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.dtype} {image.shape}")
        h0, w0 = image.shape[:2]
        self._lengths = []
        dummy = np.zeros((h0, w0), np.int64)
        sample = resize_sample(Sample(image, dummy, None, "input"), self.cfg.data.image_size)
        h, w = sample.mask.shape
        p = self.cfg.data.patch_size or max(h, w)
        stride = self.stride or self.cfg.data.eval_stride or p
        corners = spatial_windows(h, w, p, stride)
        merger = WindowMerger((h, w), self.num_classes, self.merge)
        inst_canvas = np.zeros((h, w), np.int64) if self.task.tok.instance_aware else None
        next_id = 0
        for i in range(0, len(corners), self.batch_size):
            chunk = corners[i : i + self.batch_size]
            crops = [crop_window(sample, y, x, p).image for y, x in chunk]
            batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
            masks, inst = self.predict_windows(batch)
            for j, (y, x) in enumerate(chunk):
                merger.add(resize_nearest(masks[j], (p, p)), y, x)
                if inst_canvas is not None and inst is not None:
                    up = resize_nearest(inst[j], (p, p))[: h - y, : w - x].astype(np.int64)
                    region = inst_canvas[y : y + up.shape[0], x : x + up.shape[1]]
                    region[up > 0] = up[up > 0] + next_id
                    next_id += int(up.max())
        mask = resize_nearest(merger.result(), (h0, w0))
        instances = None if inst_canvas is None else resize_nearest(inst_canvas, (h0, w0))
        return Prediction(mask, instances, self._take_lengths())

    def predict_video(self, frames: np.ndarray, frame_stride: int | None = None) -> Prediction:
        """``(T, H, W, 3)`` uint8 frames -> :class:`Prediction` with a ``(T, H, W)`` mask, for video tokenizers.

        Clips of N frames (the tokenizer's ``num_frames``) start every ``frame_stride`` frames (default N, no
        overlap; the last clip ends at the last frame), each clip is cut into spatial windows like an image,
        and overlapping predictions are merged per pixel and frame with the predictor's merge rule.
        """
        tok = self.task.tok
        if len(tok.mask_shape) != 3:
            raise ValueError(f"tokenizer {tok.name} takes single images; use predict_image for each frame")
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected (T, H, W, 3) uint8 frames, got {frames.dtype} {frames.shape}")
        n = tok.num_frames
        t0, h0, w0 = frames.shape[:3]
        self._lengths = []
        sample = resize_sample(
            Sample(frames, np.zeros((t0, h0, w0), np.int64), None, "video"), self.cfg.data.image_size
        )
        h, w = sample.mask.shape[-2:]
        p = self.cfg.data.patch_size or max(h, w)
        stride = self.stride or self.cfg.data.eval_stride or p
        windows = [
            (t, y, x)
            for t in temporal_windows(t0, n, frame_stride or self.cfg.data.eval_frame_stride or n)
            for y, x in spatial_windows(h, w, p, stride)
        ]
        merger = WindowMerger((t0, h, w), self.num_classes, self.merge)
        for i in range(0, len(windows), self.batch_size):
            chunk = windows[i : i + self.batch_size]
            clips = [crop_window(sample, y, x, p, t, n).image for t, y, x in chunk]  # (N, P, P, 3) each
            batch = torch.from_numpy(np.stack(clips)).permute(0, 1, 4, 2, 3).contiguous()
            masks, _ = self.predict_windows(batch)  # (B, N, S, S)
            for j, (t, y, x) in enumerate(chunk):
                merger.add(resize_nearest(masks[j], (p, p)), y, x, t)
        return Prediction(resize_nearest(merger.result(), (h0, w0)), None, self._take_lengths())
