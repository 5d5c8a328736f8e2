"""The segmenter contract: one Lightning module per model family, seen by training, prediction and reports.

A family subclasses :class:`Segmenter` and provides four things: :meth:`Segmenter.create` (a new model for a
config and class list), :attr:`Segmenter.spec` (what it outputs), :meth:`Segmenter.loss` (its training loss
on a batch) and :meth:`Segmenter.predict_windows` (class masks, and instances where it is instance-aware, for
a batch of windows). Everything else is shared here: the training and validation steps, validation metrics
(confusion matrix of the predicted windows against the full-resolution window labels), the optimizer and
learning-rate schedule, and the family name stored in every checkpoint (``load_segmenter`` reads it).

Optional hooks: :meth:`Segmenter.collate` (a token family adds its targets to the batch there),
:meth:`Segmenter.parameter_groups` (e.g. a lower backbone learning rate), :meth:`Segmenter.describe` (facts
for reports), :meth:`Segmenter.takes_clips` (whether the config makes a clip model), :meth:`Segmenter.train_frames`
(frames per training window), :meth:`Segmenter.vote_weights` (weights of the class votes when overlapping
windows are merged by ``fg-vote``) and, for streaming video families (``spec.streaming``), the ``previous`` argument of
:meth:`Segmenter.predict_windows`.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from typing import Any, ClassVar, cast

import lightning as L
import numpy as np
import torch

from rleseg.config import Config, from_dict
from rleseg.data.datamodule import stack_windows
from rleseg.metrics.confusion import ConfusionMatrix, segmentation_metrics
from rleseg.segmenters.spec import OutputSpec, WindowPrediction
from rleseg.tokenizers.resolution import resize_nearest
from rleseg.training.schedule import warmup_linear_decay

FAMILY_KEY = "rleseg_family"  # where a checkpoint names its family
UNKNOWN_TOTAL_STEPS = 1_000_000  # schedule length until FitScheduleToTime has measured the step time


class Segmenter(L.LightningModule, abc.ABC):
    """Base of every model family. Subclasses call ``self.save_hyperparameters()`` in their ``__init__``
    (whose arguments must rebuild the model, e.g. ``config`` and ``class_names``) after ``super().__init__``.
    """

    family: ClassVar[str] = ""
    default_merge: ClassVar[str] = "vote"  # how the Predictor merges overlapping windows by default
    # what picks best.ckpt: a logged validation metric and "max" or "min"
    checkpoint_monitor: ClassVar[tuple[str, str]] = ("val/dice", "max")

    def __init__(self, config: dict[str, Any], class_names: list[str]) -> None:
        super().__init__()
        if len(class_names) < 2:
            raise ValueError(f"class_names must hold the background and at least one class, got {class_names}")
        self.cfg: Config = from_dict(Config, config)
        self.class_names = list(class_names)
        self._cm: ConfusionMatrix | None = None
        self.last_val_metrics: dict[str, Any] = {}

    # ----- the contract -------------------------------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def create(cls, cfg: Config, class_names: list[str]) -> Segmenter:
        """A new (untrained) model for ``cfg`` and the dataset's classes (background first)."""

    @property
    @abc.abstractmethod
    def spec(self) -> OutputSpec:
        """What this model outputs for one window."""

    @abc.abstractmethod
    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training loss of a batch (see :mod:`rleseg.data.datamodule` and :meth:`collate`), and named scalars
        to log beside it (e.g. token accuracy)."""

    @abc.abstractmethod
    def predict_windows(self, images: torch.Tensor, previous: WindowPrediction | None = None) -> WindowPrediction:
        """uint8 windows ``(B, 3, P, P)`` (clip models ``(B, N, 3, P, P)``) -> :class:`WindowPrediction` at
        ``spec.label_size(P)``. ``previous``: for streaming families, the prediction of the same windows in the
        previous frame (None at a video's first frame); other families ignore it."""

    # ----- optional hooks -----------------------------------------------------------------------------
    @classmethod
    def takes_clips(cls, cfg: Config) -> bool:
        """Whether ``cfg`` makes a model of clips of N frames (default: single images)."""
        return False

    def vote_weights(self) -> np.ndarray | None:
        """Weights ``(C + 1,)`` of each class's votes when ``fg-vote`` picks a foreground pixel's class from
        overlapping windows and test-time views (default None: every vote counts 1)."""
        return None

    def set_earliest_start(self, fraction: float | None) -> None:
        """Generate with ``generation.earliest_start = fraction`` from now on (None: off); only token families
        generate start tokens, so the default refuses with a ValueError naming the family."""
        raise ValueError(
            f"earliest_start picks among generated start tokens; a {self.family} model generates none "
            "(it applies to token models, family pix2seq)"
        )

    def train_frames(self) -> int | None:
        """Frames of each training and validation window (default ``spec.num_frames``); a streaming family
        that learns from the labels of earlier frames reads clips although it predicts frame by frame."""
        return self.spec.num_frames

    def collate(self) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
        """The loaders' batch collation (picklable for worker processes); default: stacked windows."""
        return stack_windows

    def parameter_groups(self) -> list[dict[str, Any]]:
        """Optimizer parameter groups (default: every trainable parameter at ``train.lr``)."""
        return [{"params": [p for p in self.parameters() if p.requires_grad], "lr": self.cfg.train.lr}]

    def setting_warnings(self) -> list[str]:
        """Settings that train, but likely not as meant (every command that trains prints them before fitting);
        default none."""
        return []

    def describe(self) -> list[tuple[str, str]]:
        """Facts about the model for reports, e.g. ``[("model", "unet, tu-resnet18")]``."""
        return [("model", self.family)]

    def facts(self) -> list[tuple[str, str]]:
        """:meth:`describe`, then the facts of how any family was trained that reports show: a clip model's
        frame warm-up (``train.frame_warmup``)."""
        facts = self.describe()
        warmup = self.cfg.train.frame_warmup
        if warmup and self.spec.num_frames:
            facts.append(
                ("frame warm-up", f"clips of frames from different windows for the first {warmup:.0%} of training")
            )
        return facts

    @property
    def tokenizer(self) -> Any:
        """The tokenizer of a token family (sequence-length statistics in reports); None otherwise."""
        return None

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> Segmenter:
        """Rebuild from a loaded checkpoint dict (its ``hyper_parameters`` and ``state_dict``)."""
        model = cls(**checkpoint["hyper_parameters"])
        model.load_state_dict(checkpoint["state_dict"])
        return model

    # ----- shared -------------------------------------------------------------------------------------
    @property
    def num_parameters(self) -> int:
        """Number of parameters (trainable or not)."""
        return sum(p.numel() for p in self.parameters())

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss, logs = self.loss(batch)
        bs = len(batch["names"])
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        for name, value in logs.items():
            self.log(f"train/{name}", value, prog_bar=True, batch_size=bs)
        return loss

    def configure_optimizers(self) -> Any:
        t = self.cfg.train
        groups = self.parameter_groups()
        opt = torch.optim.AdamW(groups, lr=t.lr, weight_decay=t.weight_decay, fused=fused_supported(groups))
        total = float(self.trainer.estimated_stepping_batches) if self._trainer is not None else 1000.0
        if not math.isfinite(total):  # a time budget with no step or epoch limit: FitScheduleToTime sets the end
            total = UNKNOWN_TOTAL_STEPS
        total = int(total)
        sched = warmup_linear_decay(opt, total, int(total * t.warmup_fraction))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[FAMILY_KEY] = self.family

    def on_validation_epoch_start(self) -> None:
        self._cm = ConfusionMatrix(len(self.class_names) - 1)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        loss, logs = self.loss(batch)
        bs = len(batch["names"])
        self.log("val/loss", loss, prog_bar=True, batch_size=bs, sync_dist=True)
        for name, value in logs.items():
            self.log(f"val/{name}", value, batch_size=bs, sync_dist=True)
        limit = self.cfg.train.val_max_batches
        if limit is not None and batch_idx >= limit:
            return
        masks = self.predict_windows(batch["image"]).masks
        full = batch["mask_full"].cpu().numpy()
        pred = resize_nearest(masks.cpu().numpy(), full.shape[-2:])
        assert self._cm is not None
        self._cm.update(full, pred)

    def on_validation_epoch_end(self) -> None:
        if self._cm is None or self._cm.matrix.sum() == 0:
            return
        cm = torch.as_tensor(self._cm.matrix, device=self.device, dtype=torch.float64)
        if self.trainer.world_size > 1:
            cm = cast(torch.Tensor, self.all_gather(cm)).sum(0)
        metrics = segmentation_metrics(cm.cpu().numpy().astype(np.int64), self.class_names[1:])
        self.log("val/dice", _num(metrics["dice"]), prog_bar=True)
        self.log("val/dice_agnostic", _num(metrics["agnostic"]["dice"]))
        self.log("val/miou", _num(metrics["miou"]))
        self.log("val/pix_acc", _num(metrics["pix_acc"]))
        self.last_val_metrics = metrics


def fused_supported(groups: list[dict[str, Any]]) -> bool:
    """Whether AdamW can update every parameter of ``groups`` in one fused kernel: all floating point on a CPU
    or a CUDA device. On a 2-core CPU the fused step of a 1.5M-parameter token model took a quarter of the
    time of the default one (4 ms against 16 ms per step, measured 2026-12-02); the update is the same."""
    params = [p for g in groups for p in g["params"]]
    return bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)
