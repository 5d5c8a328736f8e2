"""The ``model.mask2former`` config section: Mask2Former (masked-attention mask transformer)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Mask2FormerConfig:
    """Mask2Former on Hugging Face ``transformers`` (``rleseg.segmenters.mask2former``). The defaults are small,
    for a CPU; the paper's values are in brackets (``configs/paper-mask2former-r50.yaml``).

    Backbone: ``backbone``, a timm model (random initialisation; ``pretrained`` downloads timm's weights, which
    needs a network), its feature ``levels`` (timm ``out_indices``), which must have strides 4, 8, 16 and 32
    (ResNets and RegNets: ``[1, 2, 3, 4]``) [ResNet-50].
    Pixel decoder: ``encoder_layers`` multi-scale deformable-attention layers over the strides 8..32 with
    feed-forward width ``encoder_ffn`` [6, 1024], then an FPN level at stride 4 (the per-pixel embeddings).
    Transformer decoder: ``queries`` object queries [100], ``decoder_layers`` masked-attention layers (each:
    masked cross-attention, self-attention, feed-forward of width ``decoder_ffn``) [9, 2048].
    ``dim``: width of every feature and query, a multiple of 32 (group norms of 32 groups) [256]; ``heads``:
    attention heads, dividing ``dim`` [8].
    Loss: Hungarian matching and class cross-entropy (weight ``class_weight``, the no-object class weighs
    ``no_object_weight``), binary cross-entropy and Dice of the masks (``mask_weight``, ``dice_weight``) on
    ``num_points`` sampled points per mask (importance sampling) [2, 0.1, 5, 5, 12544]; also after every
    decoder layer.
    ``encoder``: ``deformable`` (Mask2Former's: ``encoder_layers`` layers over all 3 levels) or ``proscale``
    (PRO-SCALE, :mod:`rleseg.models.mask2former.proscale`: ``stages`` = (p1, p2, p3) layers over the 1/32
    level, then 1/32 + 1/16, then all 3; ``encoder_layers`` is then unused) [(3, 3, 3)]; with ``trc`` the
    coarser levels are gated by the 1/8 level at temperature ``trc_temperature`` [0.1]; with ``lpe`` the 1/4
    level's 3x3 output convolution becomes max pooling, group norm and ReLU.
    ``panoptic``: instance-aware targets and output (one target per instance plus one per class region outside
    the instances; see :mod:`rleseg.models.mask2former.targets`); False: semantic (one target per class present).
    Panoptic inference keeps queries whose class probability exceeds ``object_threshold`` and whose visible part
    is at least ``overlap_threshold`` of their own mask [0.8, 0.8].
    """

    backbone: str = "resnet18"
    pretrained: bool = False
    levels: list[int] = field(default_factory=lambda: [1, 2, 3, 4])
    dim: int = 64
    heads: int = 4
    encoder_layers: int = 2
    encoder_ffn: int = 256
    decoder_layers: int = 3
    decoder_ffn: int = 256
    encoder: str = "deformable"
    stages: list[int] = field(default_factory=lambda: [3, 3, 3])
    trc: bool = True
    trc_temperature: float = 0.1
    lpe: bool = True
    queries: int = 20
    num_points: int = 1024
    class_weight: float = 2.0
    mask_weight: float = 5.0
    dice_weight: float = 5.0
    no_object_weight: float = 0.1
    panoptic: bool = True
    object_threshold: float = 0.8
    overlap_threshold: float = 0.8
