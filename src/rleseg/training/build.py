"""Build a run from a :class:`Config`: data sources, the DataModule of a segmenter, and the Lightning trainer."""

from __future__ import annotations

import dataclasses
import logging
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import lightning as L
import torch
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger

from rleseg.config import Config, TrainSection
from rleseg.data.datamodule import FrameWarmup, RLESegDataModule, check_class_count
from rleseg.data.frames import VideoFrames, is_video_source
from rleseg.data.mixed_clips import MixedClips
from rleseg.data.sample import SegmentationSource
from rleseg.data.transforms import AugmentConfig
from rleseg.data.windows import WindowConfig
from rleseg.segmenters.base import Segmenter
from rleseg.segmenters.registry import segmenter_class
from rleseg.training.checkpoint_io import AtomicCheckpointIO
from rleseg.training.final_step import LastCheckpoint, ValidateFinalStep
from rleseg.training.schedule import FitScheduleToTime

SPLITS = ("train", "val", "test")


def build_sources(cfg: Config) -> dict[str, SegmentationSource]:
    """The train/val/test sources named by ``cfg.data.source`` (synthetic or a dataset folder).

    With an image model, a video dataset becomes the dataset of its frames (:class:`VideoFrames`), so an
    image model trains and evaluates on the same frames a video model sees.
    """
    sources = _open_sources(cfg)
    try:
        clips = segmenter_class(cfg.model.family).takes_clips(cfg)
    except ValueError:
        return sources  # an unknown family or tokenizer is reported when the model is created
    if clips:
        return sources
    return {k: VideoFrames(v) if is_video_source(v) else v for k, v in sources.items()}


def _open_sources(cfg: Config) -> dict[str, SegmentationSource]:
    d = cfg.data
    if d.source in ("synthetic-cells", "synthetic-cells-video"):
        from rleseg.data.synthetic import MotionParams, SyntheticCells, SyntheticCellVideos

        counts = dict(zip(SPLITS, d.synthetic_counts, strict=True))
        if d.source == "synthetic-cells":
            return {
                s: SyntheticCells(cast(Any, s), num_images=counts[s], size=d.synthetic_size, seed=cfg.train.seed)
                for s in SPLITS
            }
        motion = MotionParams().slowed(d.synthetic_motion)
        return {
            s: SyntheticCellVideos(
                cast(Any, s),
                num_videos=counts[s],
                num_frames=d.synthetic_frames,
                size=d.synthetic_size,
                seed=cfg.train.seed,
                motion=motion,
                defocus=d.synthetic_defocus,
            )
            for s in SPLITS
        }
    from rleseg.data.formats import open_dataset

    root = Path(d.source)
    if not root.exists():
        raise ValueError(f"data.source {root} does not exist (expected a dataset folder or 'synthetic-cells')")
    out: dict[str, SegmentationSource] = {}
    for split, name in zip(SPLITS, (d.train_split, d.val_split, d.test_split), strict=True):
        try:
            out[split] = cast(SegmentationSource, open_dataset(root, d.format, split=name))
        except ValueError:
            if split == "train":
                raise
    return out


def build_datamodule(cfg: Config, segmenter: Segmenter, sources: dict[str, SegmentationSource]) -> RLESegDataModule:
    """The DataModule with the config's windows, augmentation and batch settings, giving ``segmenter`` its
    clips or images at its label size, batched by its collate function."""
    spec = segmenter.spec
    built_for = f"the model was built for {spec.num_classes} ({', '.join(spec.class_names[1:])})"
    check_class_count([sources.get("train")], spec.num_classes, built_for)
    d = cfg.data
    windows = WindowConfig(
        image_size=d.image_size,
        patch_size=d.patch_size,
        train_stride=tuple(d.train_stride) if d.train_stride else None,  # type: ignore[arg-type]
        eval_stride=d.eval_stride,
        val_stride=d.val_stride,
        frame_stride=d.frame_stride,
        eval_frame_stride=d.eval_frame_stride,
        augment=AugmentConfig(**dataclasses.asdict(d.augment)),
    )
    return RLESegDataModule(
        sources.get("train"),
        sources.get("val"),
        sources.get("test"),
        windows=windows,
        frames=segmenter.train_frames(),
        mask_size=spec.mask_size,
        collate=segmenter.collate(),
        batch_size=d.batch_size,
        eval_batch_size=d.eval_batch_size,
        num_workers=d.num_workers,
        seed=cfg.train.seed,
        frame_warmup=frame_warmup(cfg, segmenter),
    )


def frame_warmup(cfg: Config, segmenter: Segmenter) -> FrameWarmup | None:
    """The warm-up batches of ``train.frame_warmup``: ``batch_size`` clips whose frames come from ``batch_size
    * N`` different windows (:class:`MixedClips`); None when it is 0. ValueError for a model of single images
    and for a streaming model (its earlier frames' labels must belong to the same scene)."""
    fraction = cfg.train.frame_warmup
    if not fraction:
        return None
    frames = segmenter.train_frames()  # frames per training window
    if not frames:
        raise ValueError(
            f"train.frame_warmup={fraction} mixes the frames of a clip model's clips, but this config makes a "
            f"model of single images (family {cfg.model.family}); set train.frame_warmup to 0"
        )
    if segmenter.spec.streaming:
        raise ValueError(
            f"train.frame_warmup={fraction} mixes the frames of clips, but family {cfg.model.family} streams: it "
            "learns from the labels of a clip's earlier frames, which mixed clips would make unrelated; set "
            "train.frame_warmup to 0"
        )
    return FrameWarmup(fraction, cfg.data.batch_size * frames, MixedClips(segmenter.collate(), frames))


class EpochProgressBar(RichProgressBar):
    """Lightning's rich progress bar, saying ``Epoch N`` (not ``Epoch N/-2``) when no epoch limit is set (a
    time budget ends training)."""

    def _get_train_description(self, current_epoch: int) -> str:
        if self.trainer.max_epochs not in (None, -1):
            return super()._get_train_description(current_epoch)
        return f"{f'Epoch {current_epoch}':{len(self.validation_description)}}"  # padded like Lightning's


class _DropLightningAdverts(logging.Filter):
    """Drops Lightning's advert for its cloud logger; every other message passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in str(record.msg)


def quiet_lightning() -> None:
    """Silence two messages Lightning prints on every run that say nothing about this run: the litlogger
    advert and torch's ``LeafSpec`` deprecation warning raised inside Lightning (idempotent)."""
    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropLightningAdverts) for f in log.filters):
        log.addFilter(_DropLightningAdverts())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated.*")


def apply_threads(train: TrainSection) -> int:
    """Set torch's intra-op CPU threads to ``train.threads`` (left as it is when None); returns the count in force."""
    if train.threads is not None:
        torch.set_num_threads(train.threads)
    return torch.get_num_threads()


def build_trainer(
    cfg: Config,
    out_dir: Path,
    *,
    extra_callbacks: list[Any] | None = None,
    monitor: tuple[str, str] = Segmenter.checkpoint_monitor,
) -> L.Trainer:
    """A Lightning trainer: checkpoints written atomically (``last.ckpt``, and with ``train.checkpoint: best``
    ``best.ckpt`` by ``monitor``: a logged validation metric and ``"max"`` or ``"min"``), CSV logs, progress
    bar. The final weights are validated and saved as ``last.ckpt`` however training ends
    (:mod:`rleseg.training.final_step`)."""
    quiet_lightning()
    t = cfg.train
    precision = t.precision
    if precision == "auto":
        precision = "bf16-mixed" if torch.cuda.is_available() else "32-true"
    ckpt_dir = out_dir / "checkpoints"
    if t.val_every_n_steps:  # last.ckpt every N steps (an epoch of a small dataset is a few steps)
        last = LastCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0, every_n_train_steps=t.val_every_n_steps)
    else:  # last.ckpt: the latest state after every epoch, whatever the metrics did (for resuming)
        last = LastCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=0, save_on_train_epoch_end=True)
    callbacks: list[Any] = [last, LearningRateMonitor(logging_interval="step")]
    if t.checkpoint == "best":  # train.checkpoint final: the run hands on last.ckpt
        callbacks.insert(0, ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=monitor[0], mode=monitor[1]))
    if t.progress:
        callbacks.append(EpochProgressBar(leave=True))
    if t.max_time_minutes:
        callbacks.append(FitScheduleToTime(t.max_time_minutes))
    callbacks += extra_callbacks or []
    devices: Any = t.devices if t.devices == "auto" else int(t.devices)
    trainer = L.Trainer(
        max_epochs=t.epoch_limit(),  # with a time budget and no max_epochs, the budget ends training
        max_steps=t.max_steps,
        max_time=timedelta(minutes=t.max_time_minutes) if t.max_time_minutes else None,
        accelerator=t.accelerator,
        devices=devices,
        strategy=t.strategy,
        num_nodes=t.num_nodes,
        precision=precision,  # type: ignore[arg-type]
        gradient_clip_val=t.grad_clip,
        check_val_every_n_epoch=None if t.val_every_n_steps else t.val_every_n_epochs,
        val_check_interval=t.val_every_n_steps,
        log_every_n_steps=t.log_every_n_steps,
        reload_dataloaders_every_n_epochs=1,
        default_root_dir=str(out_dir),
        logger=CSVLogger(str(out_dir), name="logs", version=""),
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        enable_progress_bar=t.progress,
        enable_model_summary=False,
        deterministic=False,
    )
    trainer.callbacks.append(ValidateFinalStep())  # after the Timer, to see its decision to stop
    return trainer
