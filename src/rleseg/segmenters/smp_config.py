"""The ``model.smp`` config section: a per-pixel baseline from segmentation_models_pytorch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SmpConfig:
    """A segmentation_models_pytorch model trained with cross-entropy + Dice.

    ``arch``: ``unet``, ``unetplusplus``, ``deeplabv3plus``, ``fpn`` or ``segformer``. ``encoder``: an smp
    encoder name; timm encoders through ``tu-<timm name>`` (e.g. ``tu-resnet18``, ``tu-regnetx_002``).
    ``encoder_weights``: None trains from scratch (nothing is downloaded); ``"imagenet"`` (or another name
    smp knows) downloads pretrained weights, which needs a network; a path to a local ``.pth`` /
    ``.safetensors`` file of the encoder's state dict loads it offline. ``encoder_depth``: encoder stages used
    (3..5). ``ce_weight`` / ``dice_weight``: weights of the two losses. ``class_weight``: cross-entropy
    class weights: ``"none"``, ``"sqrt-inverse"`` (1/sqrt of each class's pixel frequency among the training
    windows seen so far, normalised to mean 1) or one number per class, background first.
    """

    arch: str = "unet"
    encoder: str = "tu-resnet18"
    encoder_weights: str | None = None
    encoder_depth: int = 5
    ce_weight: float = 1.0
    dice_weight: float = 1.0
    class_weight: str | list[float] = "none"
