"""Image backbone: any timm model with ``features_only``; one feature level projected to the model width, and
optionally a finer level (raw channels) for models that localize at a finer grid."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import timm
import torch
from torch import nn


class Backbone(nn.Module):
    """timm CNN/ViT features -> ``(B, D, h, w)`` at the model width ``D``.

    ``images``: ``(B, 3, H, W)`` uint8 or float in [0, 255]; normalised with the backbone's own mean/std.
    ``pretrained``: timm weights (needs network) or a path to a local weights file; ``frozen``: no gradient
    flows into the backbone and its batch norms stay in eval mode (the paper's frozen-backbone setting).
    ``out_index``: which feature level to use (default the deepest). ``fine_index``: a second, finer level
    returned raw by :meth:`forward_levels` (``fine_channels`` channels at stride ``fine_stride``).
    """

    def __init__(
        self,
        name: str = "resnet50",
        dim: int = 256,
        *,
        pretrained: bool | str = False,
        frozen: bool = False,
        out_index: int = -1,
        fine_index: int | None = None,
    ) -> None:
        super().__init__()
        local = isinstance(pretrained, str) and pretrained != ""
        try:
            self.body = timm.create_model(
                name,
                pretrained=bool(pretrained) and not local,
                features_only=True,
                out_indices=(out_index,) if fine_index is None else (fine_index, out_index),
            )
        except RuntimeError as err:
            raise ValueError(f"cannot build timm backbone {name!r}: {err}") from err
        if local:
            self._load_local(Path(str(pretrained)))
        info: Any = self.body.feature_info
        self.channels: int = info.channels()[-1]
        self.stride: int = info.reduction()[-1]
        self.fine_channels: int | None = None if fine_index is None else info.channels()[0]
        self.fine_stride: int | None = None if fine_index is None else info.reduction()[0]
        if self.fine_stride is not None and self.fine_stride >= self.stride:
            raise ValueError(
                f"backbone {name!r}: fine_index={fine_index} (stride {self.fine_stride}) must be finer than "
                f"out_index={out_index} (stride {self.stride})"
            )
        cfg: dict[str, Any] = dict(getattr(self.body, "pretrained_cfg", None) or {})
        mean = cfg.get("mean", (0.485, 0.456, 0.406))
        std = cfg.get("std", (0.229, 0.224, 0.225))
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1) * 255, persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1) * 255, persistent=False)
        self.proj = nn.Conv2d(self.channels, dim, 1)
        self.frozen = frozen
        if frozen:
            self.body.requires_grad_(False)

    def _load_local(self, path: Path) -> None:
        if not path.is_file():
            raise ValueError(f"backbone weights file {path} does not exist")
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
        missing, unexpected = self.body.load_state_dict(state, strict=False)
        if len(missing) > len(state) // 2:
            raise ValueError(f"{path}: weights do not match this backbone ({len(missing)} tensors missing)")

    def train(self, mode: bool = True) -> Backbone:
        super().train(mode)
        if self.frozen:
            self.body.eval()
        return self

    def forward_levels(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(B, 3, H, W)`` -> projected ``(B, D, H / stride, W / stride)`` and, with ``fine_index``, the raw
        fine level ``(B, fine_channels, H / fine_stride, W / fine_stride)`` (else None)."""
        mean, std = cast(torch.Tensor, self.mean), cast(torch.Tensor, self.std)
        x = (images.float() - mean) / std
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            feats = self.body(x)
        fine = feats[0] if self.fine_channels is not None else None
        return self.proj(feats[-1]), fine

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` -> ``(B, D, H / stride, W / stride)``."""
        return self.forward_levels(images)[0]
