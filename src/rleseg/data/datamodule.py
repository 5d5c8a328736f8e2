"""The LightningDataModule: windows of image, mask and instances, batched by the model family's collate.

A batch from :func:`stack_windows` is a dict: ``image`` uint8 ``(B, 3, P, P)`` (``(B, N, 3, P, P)`` for clip
models), ``mask``/``instances`` ``(B, h, w)`` at the model's label size, ``mask_full`` ``(B, P, P)``,
``names`` (list of str) and ``window_keys`` (list of ``(seed, epoch, index)``). A family adds its own targets
in its collate function (the token family: ``targets``, ``inputs``, ``weights``, ``lengths``; see
:mod:`rleseg.segmenters.token_batch`). With a :class:`FrameWarmup`, the training batches of the first epochs
are clips whose frames come from different windows (:mod:`rleseg.data.mixed_clips`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from rleseg.data.sample import SegmentationSource
from rleseg.data.windows import WindowConfig, WindowDataset
from rleseg.training.progress import training_progress

Collate = Callable[[list[dict[str, Any]]], dict[str, Any]]


@dataclass(frozen=True)
class FrameWarmup:
    """The training batches of the first ``fraction`` of training (``train.frame_warmup``): ``batch_size``
    windows a batch, batched by ``collate`` (:class:`~rleseg.data.mixed_clips.MixedClips`) instead of the
    DataModule's own batch size and collate."""

    fraction: float
    batch_size: int
    collate: Collate


def stack_windows(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack window items (:class:`WindowDataset`) into a batch of tensors plus their names and keys."""
    batch: dict[str, Any] = {
        key: torch.stack([it[key] for it in items]) for key in ("image", "mask", "instances", "mask_full")
    }
    batch["names"] = [it["name"] for it in items]
    batch["window_keys"] = [it.get("window_key", (0, 0, k)) for k, it in enumerate(items)]
    return batch


def check_class_count(sources: list[SegmentationSource | None], num_classes: int, model: str) -> None:
    """ValueError when a source has more foreground classes than the model's ``num_classes``; ``model``
    ends the message, e.g. ``"tokenizer lac was built for num_classes=2"``."""
    for source in sources:
        if source is not None and len(source.classes) - 1 > num_classes:
            names = list(source.classes)[1:]
            raise ValueError(f"dataset has {len(names)} classes {names}, {model}")


class RLESegDataModule(L.LightningDataModule):
    """Train/val/test windows of any :class:`SegmentationSource`, batched with ``collate``.

    ``frames``: N for clip models (None: single images); ``mask_size``: the label size ``(h, w)`` of the
    model (None: the window size P). ``collate`` (default :func:`stack_windows`) must be picklable when
    ``num_workers > 0``. Training windows are drawn anew each epoch when the trainer reloads dataloaders
    (``reload_dataloaders_every_n_epochs=1``); with ``frame_warmup``, an epoch that starts before its fraction
    of training is done is batched by its collate and batch size.
    """

    def __init__(
        self,
        train: SegmentationSource | None = None,
        val: SegmentationSource | None = None,
        test: SegmentationSource | None = None,
        *,
        windows: WindowConfig | None = None,
        frames: int | None = None,
        mask_size: tuple[int, int] | None = None,
        collate: Collate | None = None,
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
        frame_warmup: FrameWarmup | None = None,
    ) -> None:
        super().__init__()
        self.sources = {"train": train, "val": val, "test": test}
        self.windows = windows or WindowConfig()
        self.frames, self.mask_size = frames, mask_size
        self.collate_fn: Collate = collate or stack_windows
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.frame_warmup = frame_warmup
        self.datasets: dict[str, WindowDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        """Build the window datasets of every split that has a source."""
        for split, source in self.sources.items():
            if source is not None and split not in self.datasets:
                self.datasets[split] = WindowDataset(
                    source,
                    self.windows,
                    train=split == "train",
                    validation=split == "val",
                    frames=self.frames,
                    mask_size=self.mask_size,
                    seed=self.seed,
                )

    def _loader(
        self, split: str, shuffle: bool, batch_size: int, epoch: int = 0, collate: Collate | None = None
    ) -> DataLoader:
        if split not in self.datasets:
            self.setup()
        if split not in self.datasets:
            raise ValueError(f"no {split} data was given to the DataModule")
        return DataLoader(
            self.datasets[split],
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=collate or self.collate_fn,
            persistent_workers=False,
            generator=torch.Generator().manual_seed(self.seed * 1_000_003 + epoch) if shuffle else None,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled training windows of the trainer's current epoch (mixed clips during a frame warm-up)."""
        if "train" not in self.datasets:
            self.setup()
        epoch = self.trainer.current_epoch if self.trainer is not None else 0
        if "train" in self.datasets and self.datasets["train"].epoch != epoch:
            self.datasets["train"].set_epoch(epoch)
        warm = self.frame_warmup
        if warm is not None and self.trainer is not None and training_progress(self.trainer) < warm.fraction:
            return self._loader("train", True, warm.batch_size, epoch, warm.collate)
        return self._loader("train", True, self.batch_size, epoch)

    def val_dataloader(self) -> DataLoader | list:
        """Validation windows in a fixed order (an empty list, which skips validation, without val data)."""
        if self.sources["val"] is None:
            return []
        return self._loader("val", False, self.eval_batch_size)

    def test_dataloader(self) -> DataLoader | list:
        """Test windows in a fixed order (an empty list without test data)."""
        if self.sources["test"] is None:
            return []
        return self._loader("test", False, self.eval_batch_size)
