"""Checkpoints written atomically: to a temporary file beside the target, then renamed over it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO

from rleseg.atomic import atomic_path


class AtomicCheckpointIO(TorchCheckpointIO):
    """A crash while saving never leaves a truncated checkpoint where a good one was."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None) -> None:
        with atomic_path(Path(path)) as tmp:
            torch.save(checkpoint, tmp)
