"""The ``model.pix2seq-d`` config section: bit-diffusion panoptic segmentation (Pix2Seq-D)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Pix2SeqDConfig:
    """Pix2Seq-D (``rleseg.segmenters.pix2seq_d``); defaults follow the paper where it states a value.

    Image encoder: ``backbone`` (a timm model, random initialisation; ``pretrained`` downloads timm's
    weights, which needs a network), its feature ``levels`` (timm ``out_indices``; paper: ResNet-50),
    ``encoder_layers`` transformer layers of width ``dim`` with ``heads`` heads on the deepest level (paper: 6
    layers of 512), merged top-down into ``fuse_dim`` channels at the mask size.
    Mask decoder: a U-Net of ``decoder_dim * decoder_mults[i]`` channels per level (paper: 128 and 1,1,2,2),
    FiLM-conditioned on the noise level, with ``decoder_layers`` transformer layers at its bottleneck that
    cross-attend to the encoder (paper: 6).
    ``mask_size``: side of a window's predicted mask (None: the window size P; the paper predicts at half the
    image's resolution).
    Bits: ``class_bits`` + ``instance_bits`` (paper 8 + 8, least significant first), analog values
    ``{-scale, +scale}`` (paper 0.1). Instance ids are drawn at random from ``1 .. 2**instance_bits - 1`` for
    every training window (one draw per clip for video).
    Training: ``loss`` ``softmax`` (cross-entropy over each id's ``2**bits`` values, the paper's) or
    ``sigmoid`` (per-bit binary cross-entropy); pixels weighted by instance size to the power ``-weight_p``
    (paper 0.2); ``self_condition`` (off in the paper); ``normalize_input``: the decoder reads ``x_t`` divided
    by its standard deviation at the noise level and the clean bits of previous frames (and of self-conditioning)
    at ``{-1, +1}`` (not in the paper; short runs' denoisers were found to ignore the instance ids in ``x_t``.
    Measured on the synthetic cell videos after 900 steps: validation instance accuracy on cell pixels 0.09
    with it, 0.55 with ``scale`` 1.0 instead, 0.02 with neither; a larger ``scale`` is the stronger remedy; see
    :class:`~rleseg.models.bitdiffusion.net.BitDiffusionNet`);
    ``ema_decay`` of the evaluation weights (paper 0.999 on COCO, 0.99 on DAVIS; ramped up over the first
    steps).
    Sampling: ``steps`` DDIM steps (paper 20) with time difference ``td`` (paper 2.0 on COCO, 1.0 on DAVIS);
    instances under ``min_area`` pixels of the mask lose their id, their pixels keep their class (the paper
    drops them: 80 pixels at COCO's resolution, 10 on DAVIS);
    ``seed`` of the starting noise (a window's prediction is reproducible); ``clean_ids``: before the vote,
    clean the decoded ids of a window (3 x 3 mode filter, one id per connected piece, pixels of dropped pieces
    rejoin their neighbours' instance; not in the paper, off by default: see
    :mod:`rleseg.models.bitdiffusion.clean_ids`).
    Streaming video: ``previous_frames`` (0: an image model; 1 or 2: the decoder also reads the bits of that
    many previous frames: ground truth in training, each dropped with probability ``drop_previous``; its own
    predictions when a video is streamed), ``video_steps`` DDIM steps after a video's first frame (paper 8
    after 32 on DAVIS).
    """

    backbone: str = "resnet50"
    pretrained: bool = False
    levels: list[int] = field(default_factory=lambda: [1, 2, 3, 4])
    dim: int = 512
    heads: int = 8
    encoder_layers: int = 6
    fuse_dim: int = 256
    decoder_dim: int = 128
    decoder_mults: list[int] = field(default_factory=lambda: [1, 1, 2, 2])
    decoder_layers: int = 6
    mask_size: int | None = None
    class_bits: int = 8
    instance_bits: int = 8
    scale: float = 0.1
    loss: str = "softmax"
    weight_p: float = 0.2
    self_condition: bool = False
    normalize_input: bool = False
    ema_decay: float = 0.999
    steps: int = 20
    td: float = 2.0
    min_area: int = 10
    seed: int = 0
    clean_ids: bool = False
    previous_frames: int = 0
    drop_previous: float = 0.5
    video_steps: int = 8
