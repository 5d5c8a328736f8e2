"""Predict full-size masks for images and videos of any size with a trained checkpoint.

An image is resized like the training data (longer side I), cut into windows of the model's input size P
at a chosen stride, every window's tokens are generated and decoded at the mask size S, upsampled back to
P, merged into the full mask (vote, latest, max or min), resized back to the image's own size and, if asked,
cleaned of small gaps. A video is cut the same way into clips of N frames every T frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rleseg.data.patches import crop_window, resize_sample, spatial_windows, temporal_windows
from rleseg.data.sample import Sample
from rleseg.inference.cleanup import close_gaps
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
    """Runs a trained :class:`Pix2SeqTask` over whole images and videos (sliding windows + stitching).

    ``stride``: spatial window stride (default: the config's ``data.eval_stride``, else P); ``merge``: how
    overlapping windows merge (vote, latest, max, min); ``cleanup``: close background gaps of up to this
    many pixels in the full-size masks (default: the config's ``generation.cleanup``; 0: off).
    """

    def __init__(
        self,
        task: Pix2SeqTask,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 8,
        stride: int | None = None,
        merge: str = "vote",
        cleanup: int | None = None,
    ) -> None:
        self.task = task.to(device).eval()
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.cfg = task.cfg
        self.stride = stride
        self.merge = merge
        self.cleanup = task.cfg.generation.cleanup if cleanup is None else cleanup
        if isinstance(self.cleanup, bool) or int(self.cleanup) != self.cleanup or self.cleanup < 0:
            raise ValueError(f"cleanup must be a gap size in pixels >= 0 (0: off), got {self.cleanup!r}")
        self.num_classes = len(task.class_names) - 1

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
    def predict_windows(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Windows ``(B, 3, P, P)`` (clips ``(B, N, 3, P, P)``) uint8 -> masks ``(B, *mask_shape)`` at the mask
        size, instances (``iw``) or None, and the generated sequence lengths ``(B,)`` (EOS included)."""
        masks, inst, lengths = self.task.predict_masks_with_lengths(images.to(self.device))
        inst_np = None if inst is None else inst.cpu().numpy()
        return masks.cpu().numpy(), inst_np, lengths.cpu().numpy().astype(np.int64)

    @property
    def is_video(self) -> bool:
        """Whether the tokenizer takes clips of ``num_frames`` frames (use :meth:`predict_video`)."""
        return len(self.task.tok.mask_shape) == 3

    @property
    def num_frames(self) -> int:
        """N: frames per clip (1 for image tokenizers)."""
        return int(self.task.tok.num_frames) if self.is_video else 1

    def predict_image(self, image: np.ndarray) -> Prediction:
        """``(H, W, 3)`` uint8 image -> :class:`Prediction` at ``(H, W)``."""
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.dtype} {image.shape}")
        return self._predict(image, None)

    def predict_video(self, frames: np.ndarray, frame_stride: int | None = None) -> Prediction:
        """``(T, H, W, 3)`` uint8 frames -> :class:`Prediction` with a ``(T, H, W)`` mask, for video tokenizers.

        Clips of N frames (the tokenizer's ``num_frames``) start every ``frame_stride`` frames (default: the
        config's ``data.eval_frame_stride``, else N, no overlap; the last clip ends at the last frame), each
        clip is cut into spatial windows like an image, and overlapping predictions are merged per pixel and
        frame with the predictor's merge rule. ``iw`` models also give ``(T, H, W)`` instances.
        """
        tok = self.task.tok
        if not self.is_video:
            raise ValueError(f"tokenizer {tok.name} takes single images; use predict_image for each frame")
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected (T, H, W, 3) uint8 frames, got {frames.dtype} {frames.shape}")
        n = self.num_frames
        stride = frame_stride or self.cfg.data.eval_frame_stride or n
        if stride > n:
            raise ValueError(f"frame stride {stride} is larger than the clip length N={n}; frames would be skipped")
        return self._predict(frames, temporal_windows(frames.shape[0], n, stride))

    def _predict(self, pixels: np.ndarray, clip_starts: list[int] | None) -> Prediction:
        """The one prediction path of images ``(H, W, 3)`` (``clip_starts`` None) and videos ``(T, H, W, 3)``
        (clips of N frames from each start): resize to I, cut windows of P at the stride, predict them in
        batches, merge at the resized size, resize back to the input's size and clean up (``cleanup``)."""
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
        instances = _InstanceCanvas(shape) if self.task.tok.instance_aware else None
        lengths: list[np.ndarray] = []
        for i in range(0, len(windows), self.batch_size):
            chunk = windows[i : i + self.batch_size]
            crops = [crop_window(sample, y, x, p, t, n).image for t, y, x in chunk]  # (P, P, 3) or (N, P, P, 3)
            batch = torch.from_numpy(np.stack(crops)).movedim(-1, -3).contiguous()  # (B, [N,] 3, P, P)
            masks, inst, batch_lengths = self.predict_windows(batch)  # (B, [N,] S, S), (B,)
            lengths.append(batch_lengths)
            for j, (t, y, x) in enumerate(chunk):
                merger.add(resize_nearest(masks[j], (p, p)), y, x, t)
                if instances is not None and inst is not None:
                    instances.paste(resize_nearest(inst[j], (p, p)), y, x, t)
        mask = resize_nearest(merger.result(), shape0[-2:])
        inst_full = None if instances is None else resize_nearest(instances.canvas, shape0[-2:])
        if self.cleanup:
            mask = close_gaps(mask, self.cleanup)
            inst_full = None if inst_full is None else close_gaps(inst_full, self.cleanup)
        return Prediction(mask, inst_full, np.concatenate(lengths) if lengths else np.zeros(0, np.int64))


class _InstanceCanvas:
    """Pastes window instance ids ``(P, P)`` (clips ``(N, P, P)``) into one ``shape`` canvas, each window's
    ids offset past all earlier ones so instances of different windows never share an id (later windows
    overwrite earlier ones where they overlap)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.canvas = np.zeros(shape, np.int64)
        self.next_id = 0

    def paste(self, ids: np.ndarray, y: int, x: int, t: int = 0) -> None:
        h, w = self.canvas.shape[-2:]
        if self.canvas.ndim == 3:
            ids = ids[: self.canvas.shape[0] - t]
            region = self.canvas[t : t + ids.shape[0], y : y + ids.shape[-2], x : x + ids.shape[-1]]
        else:
            region = self.canvas[y : y + ids.shape[-2], x : x + ids.shape[-1]]
        ids = ids[..., : h - y, : w - x].astype(np.int64)
        region = region[..., : ids.shape[-2], : ids.shape[-1]]
        region[ids > 0] = ids[ids > 0] + self.next_id
        self.next_id += int(ids.max()) if ids.size else 0
