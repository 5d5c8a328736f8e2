"""Building Hugging Face ``transformers``' ``Mask2FormerForUniversalSegmentation`` offline: the config is made in
code (never ``from_pretrained``) around a timm backbone, whose weights are timm's own initialisation (or timm's
pretrained weights when asked, which downloads)."""

from __future__ import annotations

from typing import Any

import timm
import torch
from torch import nn

from rleseg.models.mask2former.proscale import install_proscale
from rleseg.segmenters.mask2former_config import Mask2FormerConfig

ENCODERS = ("deformable", "proscale")
STRIDES = (4, 8, 16, 32)  # the feature strides the pixel decoder is built for (3 attention levels + 1 FPN level)


def check_config(m: Mask2FormerConfig) -> None:
    """ValueError naming the ``model.mask2former`` setting that cannot build a model."""
    checks = [
        ("dim", m.dim >= 32 and m.dim % 32 == 0, "a positive multiple of 32 (group norms of 32 groups)"),
        ("heads", m.heads >= 1 and m.dim % max(m.heads, 1) == 0, f"a positive divisor of dim={m.dim}"),
        ("levels", len(m.levels) == len(STRIDES), "4 feature levels (strides 4, 8, 16, 32), e.g. [1, 2, 3, 4]"),
        ("encoder_layers", m.encoder_layers >= 1, "at least 1"),
        ("decoder_layers", m.decoder_layers >= 1, "at least 1"),
        ("encoder_ffn", m.encoder_ffn >= 1, "a positive width"),
        ("decoder_ffn", m.decoder_ffn >= 1, "a positive width"),
        ("encoder", m.encoder in ENCODERS, " or ".join(ENCODERS)),
        ("stages", len(m.stages) == 3 and min(m.stages) >= 0 and sum(m.stages) >= 1, "3 depths >= 0, not all 0"),
        ("trc_temperature", m.trc_temperature > 0, "a positive number"),
        ("queries", m.queries >= 1, "at least 1"),
        ("num_points", m.num_points >= 1, "at least 1"),
        ("class_weight", m.class_weight >= 0, "a number >= 0"),
        ("mask_weight", m.mask_weight >= 0, "a number >= 0"),
        ("dice_weight", m.dice_weight >= 0, "a number >= 0"),
        ("no_object_weight", m.no_object_weight >= 0, "a number >= 0"),
        ("object_threshold", 0 <= m.object_threshold < 1, "a probability in [0, 1)"),
        ("overlap_threshold", 0 <= m.overlap_threshold <= 1, "a fraction in [0, 1]"),
    ]
    for name, ok, expected in checks:
        if not ok:
            raise ValueError(f"model.mask2former.{name}: expected {expected}, got {getattr(m, name)!r}")
    if m.class_weight + m.mask_weight + m.dice_weight == 0:
        raise ValueError("model.mask2former.class_weight / mask_weight / dice_weight: expected weights not all 0")


def timm_features(m: Mask2FormerConfig, pretrained: bool) -> nn.Module:
    """The timm backbone of ``m`` (``features_only`` at ``m.levels``); ValueError naming the backbone when it
    cannot be built or its levels do not have strides 4, 8, 16 and 32."""
    try:
        body = timm.create_model(m.backbone, pretrained=pretrained, features_only=True, out_indices=tuple(m.levels))
    except (RuntimeError, IndexError, ValueError, KeyError) as err:
        msg = str(err.args[0]) if err.args else str(err)
        raise ValueError(
            f"model.mask2former: cannot build timm backbone {m.backbone!r} at levels {m.levels}: {msg}"
        ) from None
    info: Any = body.feature_info
    strides = tuple(int(r) for r in info.reduction())
    if strides != STRIDES:
        raise ValueError(
            f"model.mask2former.levels: {m.levels} of {m.backbone} have strides {strides}; expected levels of strides "
            f"{STRIDES} (e.g. [1, 2, 3, 4] for ResNets and RegNets, [0, 1, 2, 3] for ConvNeXts)"
        )
    return body


def hf_config(m: Mask2FormerConfig, num_labels: int) -> Any:
    """The ``transformers.Mask2FormerConfig`` of ``m`` with ``num_labels`` classes (plus no-object)."""
    from transformers import Mask2FormerConfig as HFMask2FormerConfig
    from transformers import TimmBackboneConfig

    backbone = TimmBackboneConfig(backbone=m.backbone, out_indices=list(m.levels))
    return HFMask2FormerConfig(
        backbone_config=backbone,
        num_labels=num_labels,
        feature_size=m.dim,
        mask_feature_size=m.dim,
        hidden_dim=m.dim,
        num_attention_heads=m.heads,
        encoder_layers=m.encoder_layers,
        encoder_feedforward_dim=m.encoder_ffn,
        decoder_layers=m.decoder_layers + 1,  # transformers counts the prediction before the first layer
        dim_feedforward=m.decoder_ffn,
        num_queries=m.queries,
        train_num_points=m.num_points,
        class_weight=m.class_weight,
        mask_weight=m.mask_weight,
        dice_weight=m.dice_weight,
        no_object_weight=m.no_object_weight,
        feature_strides=list(STRIDES),
        use_auxiliary_loss=True,
    )


def build_mask2former(m: Mask2FormerConfig, num_labels: int, *, pretrained: bool = False) -> Any:
    """``Mask2FormerForUniversalSegmentation`` of ``m`` for ``num_labels`` classes; the backbone holds timm's
    initialisation (``pretrained``: timm's pretrained weights, downloaded). Nothing else is downloaded. Typed
    ``Any``: transformers' own annotations of its loss inputs (tensors where lists are taken) do not fit."""
    from transformers import Mask2FormerForUniversalSegmentation
    from transformers.utils import logging as hf_logging

    check_config(m)
    body = timm_features(m, pretrained)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "timm_backbone is not a supported model" is a warning about Swin configs
    try:
        model = Mask2FormerForUniversalSegmentation(hf_config(m, num_labels))
    finally:
        hf_logging.set_verbosity(verbosity)
    if m.encoder == "proscale":
        install_proscale(model, m.stages, trc=m.trc, temperature=m.trc_temperature, lpe=m.lpe)
    # transformers re-initialises the backbone's batch norms (weights ~ N(0, 0.02)); timm's own initialisation
    # (or its pretrained weights) is put back
    backbone_module(model).load_state_dict(body.state_dict())
    return model


def backbone_module(model: nn.Module) -> nn.Module:
    """The timm feature model inside a ``Mask2FormerForUniversalSegmentation``."""
    inner: Any = model
    module: nn.Module = inner.model.pixel_level_module.encoder._backbone
    return module


def components(model: nn.Module) -> dict[str, nn.Module]:
    """The parts of a ``Mask2FormerForUniversalSegmentation`` whose costs are reported apart: ``backbone``,
    ``pixel decoder`` (the deformable-attention encoder and the FPN level), ``transformer decoder``."""
    inner: Any = model
    return {
        "backbone": inner.model.pixel_level_module.encoder,
        "pixel decoder": inner.model.pixel_level_module.decoder,
        "transformer decoder": inner.model.transformer_module,
    }


def image_stats(body_or_model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """The backbone's normalisation ``(mean, std)`` as ``(1, 3, 1, 1)`` tensors in 0..255 units (timm's
    pretrained config; ImageNet's when it has none)."""
    cfg: dict[str, Any] = dict(getattr(body_or_model, "pretrained_cfg", None) or {})
    mean, std = cfg.get("mean", (0.485, 0.456, 0.406)), cfg.get("std", (0.229, 0.224, 0.225))
    return torch.tensor(mean).view(1, 3, 1, 1) * 255, torch.tensor(std).view(1, 3, 1, 1) * 255
