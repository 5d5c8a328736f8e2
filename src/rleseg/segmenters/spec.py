"""What every model family promises: the shape of its window predictions (:class:`OutputSpec`) and what one
call of ``predict_windows`` returns (:class:`WindowPrediction`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class OutputSpec:
    """What a segmenter outputs for one window.

    ``mask_size``: ``(h, w)`` of the predicted labels of a window (a token model's S); None: the window's own
    size P (per-pixel models). ``num_frames``: N, the clip length of a model that reads clips
    ``(B, N, 3, P, P)``; None for a model of single images (videos are then predicted frame by frame).
    ``class_names``: background first. ``instance_aware``: instance masks come with the class masks.
    ``streaming``: a video is predicted frame by frame, each frame conditioned on the model's own prediction
    of the previous frame (``predict_windows(images, previous=...)``).
    """

    mask_size: tuple[int, int] | None
    num_frames: int | None
    class_names: tuple[str, ...]
    instance_aware: bool = False
    streaming: bool = False

    @property
    def num_classes(self) -> int:
        """C: the foreground classes (ids 1..C)."""
        return len(self.class_names) - 1

    @property
    def is_video(self) -> bool:
        """True for a model of clips of N frames."""
        return self.num_frames is not None

    def label_size(self, window: int) -> tuple[int, int]:
        """``(h, w)`` of the labels a window of side ``window`` is trained on and predicted at."""
        return self.mask_size if self.mask_size is not None else (window, window)


@dataclass
class WindowPrediction:
    """Predictions of a batch of windows.

    ``masks``: int64 class ids ``(B, h, w)`` (clip models ``(B, N, h, w)``) at :meth:`OutputSpec.label_size`.
    ``instances``: the same shape, instance ids (0: none), for instance-aware models; else None.
    ``extras``: optional per-window tensors, first dimension B: ``"lengths"`` ``(B,)`` generated sequence
    lengths (token models, EOS included), ``"probs"`` ``(B, C + 1, h, w)`` class probabilities (per-pixel
    models; windows are then merged by averaging them).
    """

    masks: torch.Tensor
    instances: torch.Tensor | None = None
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
