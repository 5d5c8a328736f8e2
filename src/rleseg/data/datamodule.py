"""The LightningDataModule: windows tokenized online in the loader workers, padded into train-ready batches.

A batch is a dict of tensors: ``image`` uint8 ``(B, 3, P, P)`` (``(B, N, 3, P, P)`` for video tokenizers),
``mask``/``instances`` ``(B, S, S)``, ``mask_full`` ``(B, P, P)``, ``targets`` ``(B, L)`` (tokens then EOS,
PAD after), ``inputs`` ``(B, L)`` (the prompt then the targets shifted right), ``weights`` ``(B, L)`` float
loss weights, ``lengths`` ``(B,)`` and ``names`` (list of str).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from rleseg.data.sample import SegmentationSource
from rleseg.data.weights import token_weights
from rleseg.data.windows import WindowConfig, WindowDataset
from rleseg.tokenizers.base import Tokenizer
from rleseg.tokenizers.batch import decoder_inputs, pad_sequences


def collate_windows(
    items: list[dict[str, Any]],
    tok: Tokenizer,
    *,
    pad_to: int | None = None,
    eos_weight: float = 1.0,
    class_weight: str | float = "equalize",
) -> dict[str, Any]:
    """Stack window items into a batch; pad tokens to the longest (or ``pad_to``), add inputs and weights."""
    batch: dict[str, Any] = {
        key: torch.stack([it[key] for it in items]) for key in ("image", "mask", "instances", "mask_full")
    }
    batch["names"] = [it["name"] for it in items]
    if "tokens" in items[0]:
        targets, lengths = pad_sequences([it["tokens"] for it in items], length=pad_to)
        batch["targets"] = targets
        batch["lengths"] = lengths
        batch["inputs"] = decoder_inputs(targets)
        batch["weights"] = token_weights(tok, targets, eos_weight=eos_weight, class_weight=class_weight)
    return batch


class RLESegDataModule(L.LightningDataModule):
    """Train/val/test windows of any :class:`SegmentationSource`, tokenized online with ``tok``.

    ``max_len`` (default ``tok.max_len``) is the token budget L including EOS: sequences are cut at a run
    boundary to fit. Batches are padded to their longest sequence, or to L with ``pad_to_max_len`` (every
    batch the same shape, for compiled models and for measuring memory at a given L). Training windows are
    drawn anew each epoch when the trainer reloads dataloaders (``reload_dataloaders_every_n_epochs=1``).
    """

    def __init__(
        self,
        tok: Tokenizer,
        train: SegmentationSource | None = None,
        val: SegmentationSource | None = None,
        test: SegmentationSource | None = None,
        *,
        windows: WindowConfig | None = None,
        batch_size: int = 8,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        max_len: int | None = None,
        eos_weight: float = 1.0,
        class_weight: str | float = "equalize",
        seed: int = 0,
        tokenize: bool = True,
        pad_to_max_len: bool = False,
    ) -> None:
        super().__init__()
        if max_len is not None:
            tok.max_len = max_len
        self.tok = tok
        self.sources = {"train": train, "val": val, "test": test}
        self.windows = windows or WindowConfig()
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.eos_weight, self.class_weight = eos_weight, class_weight
        self.seed, self.tokenize = seed, tokenize
        self.pad_to_max_len = pad_to_max_len
        self.datasets: dict[str, WindowDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        """Build the window datasets of every split that has a source."""
        for split, source in self.sources.items():
            if source is not None and split not in self.datasets:
                self.datasets[split] = WindowDataset(
                    source,
                    self.tok,
                    self.windows,
                    train=split == "train",
                    seed=self.seed,
                    tokenize=self.tokenize,
                )

    @property
    def collate_fn(self) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
        """The batch collation used by every loader (picklable, for worker processes)."""
        return partial(
            collate_windows,
            tok=self.tok,
            pad_to=self.tok.max_len if self.pad_to_max_len else None,
            eos_weight=self.eos_weight,
            class_weight=self.class_weight,
        )

    def _loader(self, split: str, shuffle: bool, batch_size: int, epoch: int = 0) -> DataLoader:
        if split not in self.datasets:
            self.setup()
        if split not in self.datasets:
            raise ValueError(f"no {split} data was given to the DataModule")
        return DataLoader(
            self.datasets[split],
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            persistent_workers=False,
            generator=torch.Generator().manual_seed(self.seed * 1_000_003 + epoch) if shuffle else None,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled training windows of the trainer's current epoch."""
        if "train" not in self.datasets:
            self.setup()
        epoch = self.trainer.current_epoch if self.trainer is not None else 0
        if "train" in self.datasets and self.datasets["train"].epoch != epoch:
            self.datasets["train"].set_epoch(epoch)
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
