"""New segmenters from a config, and trained ones from their checkpoint files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rleseg.segmenters.registry import segmenter_class

if TYPE_CHECKING:
    from rleseg.config import Config
    from rleseg.segmenters.base import Segmenter


def create_segmenter(cfg: Config, class_names: list[str]) -> Segmenter:
    """A new model of the family ``cfg.model.family`` for the dataset's classes (background first)."""
    return segmenter_class(cfg.model.family).create(cfg, list(class_names))


def checkpoint_family(checkpoint: dict[str, Any]) -> str:
    """The family a loaded checkpoint dict belongs to: the name stored with it, else its config's
    ``model.family``, else ``pix2seq`` (checkpoints written before model families existed)."""
    from rleseg.segmenters.base import FAMILY_KEY

    if checkpoint.get(FAMILY_KEY):
        return str(checkpoint[FAMILY_KEY])
    model = (checkpoint.get("hyper_parameters", {}).get("config") or {}).get("model") or {}
    return str(model.get("family", "pix2seq"))


def load_segmenter(path: str | Path, map_location: str | torch.device = "cpu") -> Segmenter:
    """The trained model in a checkpoint written by ``rleseg train``, of whichever family; ValueError naming
    the file when it does not exist or is not such a checkpoint."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"checkpoint {p} does not exist")
    try:
        checkpoint = torch.load(p, map_location=map_location, weights_only=False)
    except Exception as err:  # unpickling raises many kinds of error for a file that is not a checkpoint
        raise ValueError(f"{p} is not an rleseg checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(checkpoint, dict) or "hyper_parameters" not in checkpoint or "state_dict" not in checkpoint:
        raise ValueError(f"{p} is not an rleseg checkpoint (no hyper_parameters and state_dict in it)")
    family = checkpoint_family(checkpoint)
    try:
        cls = segmenter_class(family)
    except ValueError as err:
        raise ValueError(f"{p}: {err}") from None
    try:
        return cls.from_checkpoint(checkpoint)
    except (KeyError, TypeError, RuntimeError) as err:
        raise ValueError(
            f"{p} is not a {family} checkpoint this version can read ({type(err).__name__}: {err})"
        ) from None
