"""The ``model.smp`` config section: a per-pixel baseline from segmentation_models_pytorch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SmpConfig:
    """A segmentation_models_pytorch model trained with cross-entropy + soft Dice (``rleseg.segmenters.smp``).

    ``arch``: ``unet``, ``unetplusplus``, ``deeplabv3plus``, ``fpn`` or ``segformer``. ``encoder``: an smp
    encoder name (e.g. ``resnet18``); timm encoders through ``tu-<timm name>`` (e.g. ``tu-resnet18``,
    ``tu-regnetx_002``; a pretrained tag goes in the name, ``tu-resnet18.a1_in1k``).
    ``encoder_weights``: None trains from scratch (nothing is downloaded); ``"imagenet"`` (or another name
    smp knows; any name for ``tu-`` encoders, whose weights follow the tag in the name) downloads pretrained
    weights, which needs a network; a path to a local ``.pth`` / ``.pt`` / ``.safetensors`` file holding the
    encoder's state dict loads it offline (keys as in ``model.encoder``, or prefixed ``encoder.``, or a plain
    timm model's keys for ``tu-`` encoders). A checkpoint never reads the weights again: its own are kept.
    ``encoder_depth``: encoder stages used (3..5); windows are padded to a multiple of the encoder's output
    stride (``2 ** encoder_depth``, 16 at most for ``deeplabv3plus``). ``decoder_channels``: width of the
    decoder (smp's default 256): ``unet``/``unetplusplus`` stages get ``c, c/2, c/4, ...`` (at least 8),
    ``fpn`` pyramid ``c`` and segmentation ``c/2`` channels (a multiple of 32, at least 32), ``deeplabv3plus``
    and ``segformer`` ``c``.
    ``ce_weight`` / ``dice_weight``: weights of the two losses (either may be 0, not both).
    ``class_weight``: cross-entropy class weights: ``"none"``, ``"sqrt-inverse"`` (1/sqrt of each class's
    pixel frequency among the training windows seen so far, normalised to mean 1 over the classes seen) or
    one number >= 0 per class, background first (C + 1 numbers).
    """

    arch: str = "unet"
    encoder: str = "tu-resnet18"
    encoder_weights: str | None = None
    encoder_depth: int = 5
    decoder_channels: int = 256
    ce_weight: float = 1.0
    dice_weight: float = 1.0
    class_weight: str | list[float] = "none"
