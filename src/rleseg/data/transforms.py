"""Joint augmentation of image, mask and instances (torchvision.transforms.v2): geometric transforms, and
colour jitter of the image alone.

One random draw is applied to every array of a sample, and to every frame of a clip, so labels stay
aligned with pixels. Labels are resampled with nearest neighbour; rotation by an arbitrary angle fills the
uncovered corners with background (label 0, black image).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from rleseg.data.sample import Sample


@dataclass(frozen=True)
class AugmentConfig:
    """Which random transforms to apply to training windows.

    ``rot90``: rotate by a random multiple of 90 degrees (lossless); ``degrees``: extra rotation by an
    angle drawn from ``[-degrees, degrees]``; ``hflip``/``vflip``: flip probabilities. Colour jitter of the
    image alone, as torchvision's ``ColorJitter``: ``brightness``, ``contrast`` and ``saturation`` scale by a
    factor drawn from ``[1 - x, 1 + x]``, ``hue`` shifts by up to ``hue`` of a turn (at most 0.5); 0 is off.
    """

    rot90: bool = True
    degrees: float = 0.0
    hflip: float = 0.5
    vflip: float = 0.5
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0

    def __post_init__(self) -> None:
        for name in ("brightness", "contrast", "saturation"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"data.augment.{name}={getattr(self, name)}: expected a number in [0, 1)")
        if not 0 <= self.hue <= 0.5:
            raise ValueError(f"data.augment.hue={self.hue}: expected a number in [0, 0.5]")

    @property
    def color(self) -> bool:
        """True when colour jitter is on."""
        return max(self.brightness, self.contrast, self.saturation, self.hue) > 0

    @property
    def enabled(self) -> bool:
        """True when at least one transform can change a sample."""
        return self.rot90 or self.degrees > 0 or self.hflip > 0 or self.vflip > 0 or self.color


def build_transform(cfg: AugmentConfig) -> v2.Transform:
    """The torchvision v2 pipeline for ``cfg`` (colour jitter, flips and arbitrary rotation; rot90 is applied
    separately). Colour jitter changes images only; one draw serves every frame of a clip."""
    parts: list[v2.Transform] = []
    if cfg.color:
        jitter = (cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue)
        parts.append(v2.ColorJitter(*(x or None for x in jitter)))
    if cfg.hflip > 0:
        parts.append(v2.RandomHorizontalFlip(cfg.hflip))
    if cfg.vflip > 0:
        parts.append(v2.RandomVerticalFlip(cfg.vflip))
    if cfg.degrees > 0:
        parts.append(v2.RandomRotation(cfg.degrees, interpolation=v2.InterpolationMode.BILINEAR, fill=0))
    return v2.Compose(parts) if parts else v2.Identity()


def augment(sample: Sample, cfg: AugmentConfig, transform: v2.Transform, rng: np.random.Generator) -> Sample:
    """Apply one random draw of ``cfg`` jointly to the image (or clip), mask and instances.

    Shapes are kept: ``(H, W, 3)`` / ``(T, H, W, 3)`` image and ``(H, W)`` / ``(T, H, W)`` labels
    (rotations by 90 degrees need square windows, which patches always are).
    """
    if not cfg.enabled:
        return sample
    image = torch.from_numpy(np.ascontiguousarray(sample.image))
    image = image.permute(0, 3, 1, 2) if sample.is_video else image.permute(2, 0, 1)
    img_tv = tv_tensors.Video(image) if sample.is_video else tv_tensors.Image(image)
    mask_tv = tv_tensors.Mask(torch.from_numpy(np.ascontiguousarray(sample.mask)).long())
    inst_tv = None
    if sample.instances is not None:
        inst_tv = tv_tensors.Mask(torch.from_numpy(np.ascontiguousarray(sample.instances)).long())
    seed = int(rng.integers(0, 2**31 - 1))
    with torch.random.fork_rng(devices=[]):
        # the CPU generator alone, which the transforms draw from: torch.manual_seed also queues a seed for
        # every accelerator torch knows and formats a stack trace for each (a third of this function's time)
        torch.default_generator.manual_seed(seed)
        out = transform(img_tv, mask_tv, inst_tv) if inst_tv is not None else transform(img_tv, mask_tv)
    img_t, mask_t = out[0], out[1]
    inst_t = out[2] if inst_tv is not None else None
    if cfg.rot90 and img_t.shape[-1] == img_t.shape[-2]:
        k = int(rng.integers(0, 4))
        img_t, mask_t = torch.rot90(img_t, k, (-2, -1)), torch.rot90(mask_t, k, (-2, -1))
        inst_t = None if inst_t is None else torch.rot90(inst_t, k, (-2, -1))
    image_np = (img_t.permute(0, 2, 3, 1) if sample.is_video else img_t.permute(1, 2, 0)).contiguous().numpy()
    return Sample(
        image_np,
        mask_t.numpy().astype(sample.mask.dtype, copy=False),
        None if inst_t is None else inst_t.numpy().astype(sample.instances.dtype, copy=False),  # type: ignore[union-attr]
        sample.name,
    )
