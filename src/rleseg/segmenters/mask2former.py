"""The ``mask2former`` family: Mask2Former (masked-attention mask transformer) from Hugging Face ``transformers``,
on a timm backbone built offline, for semantic or panoptic (instance-aware) segmentation.

The module takes the uint8 windows of the data module, normalises them with the backbone's statistics and pads
them at the bottom and right to a multiple of 32 (the deepest stride), in training and prediction alike, so any
window size P works. Labels are at the window size (``spec.mask_size`` None). Training: targets from the
window's class and instance masks (:mod:`rleseg.models.mask2former.targets`; zero-padded like the image) and
transformers' loss (Hungarian matching; class cross-entropy, mask BCE and Dice on sampled points; after every
decoder layer). Prediction: each query's mask is cropped to the window and upsampled to it
(:func:`~rleseg.models.mask2former.inference.window_masks`), then semantic probabilities (``extras["probs"]``
for semantic models, merged by averaging where windows overlap) or panoptic segments with instances.
Videos are predicted frame by frame.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from rleseg.config import Config
from rleseg.models.mask2former.build import backbone_module, build_mask2former, components, image_stats
from rleseg.models.mask2former.inference import panoptic_segments, semantic_probs, window_masks
from rleseg.models.mask2former.targets import batch_targets, num_labels
from rleseg.segmenters.base import Segmenter
from rleseg.segmenters.mask2former_config import Mask2FormerConfig
from rleseg.segmenters.spec import OutputSpec, WindowPrediction

PAD_MULTIPLE = 32  # windows are padded to a multiple of the deepest feature stride
LOSS_TERMS = {"ce": "loss_cross_entropy", "mask_bce": "loss_mask", "dice_loss": "loss_dice"}  # last layer's, logged


class Mask2FormerSegmenter(Segmenter):
    """Mask2Former for ``config``'s ``model.mask2former`` section and ``class_names`` (background first).
    ``pretrained``: let ``model.mask2former.pretrained`` download timm weights (False when a checkpoint's
    weights replace them: a checkpoint never downloads)."""

    family: ClassVar[str] = "mask2former"
    default_merge: ClassVar[str] = "average"  # semantic models give probabilities; panoptic ones labels (= vote)
    # best.ckpt by the matched class + mask + Dice loss on the validation windows: it falls steadily, where a
    # small validation split's Dice is noisy enough to pick step 100 (seen on hgsc-stroma, 6 validation tiles)
    checkpoint_monitor: ClassVar[tuple[str, str]] = ("val/loss", "min")
    pixel_mean: torch.Tensor  # (1, 3, 1, 1) buffers, in 0..255 units
    pixel_std: torch.Tensor

    def __init__(self, config: dict[str, Any], class_names: list[str], *, pretrained: bool = True) -> None:
        super().__init__(config, class_names)
        self.save_hyperparameters(ignore=["pretrained"])
        m = self.m
        self.num_classes = len(self.class_names) - 1
        self.model = build_mask2former(
            m, num_labels(self.num_classes, m.panoptic), pretrained=m.pretrained and pretrained
        )
        mean, std = image_stats(backbone_module(self.model))
        self.register_buffer("pixel_mean", mean, persistent=False)
        self.register_buffer("pixel_std", std, persistent=False)

    @property
    def m(self) -> Mask2FormerConfig:
        """This model's ``model.mask2former`` section."""
        section: Mask2FormerConfig = self.cfg.model.section("mask2former")
        return section

    @classmethod
    def create(cls, cfg: Config, class_names: list[str]) -> Mask2FormerSegmenter:
        """A new model for ``cfg.model.mask2former`` (random backbone unless ``pretrained``)."""
        return cls(cfg.to_dict(), list(class_names))

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> Mask2FormerSegmenter:
        """Rebuild from a loaded checkpoint dict without downloading backbone weights (its own replace them)."""
        model = cls(**checkpoint["hyper_parameters"], pretrained=False)
        model.load_state_dict(checkpoint["state_dict"])
        return model

    @property
    def spec(self) -> OutputSpec:
        return OutputSpec(
            mask_size=None, num_frames=None, class_names=tuple(self.class_names), instance_aware=self.m.panoptic
        )

    def describe(self) -> list[tuple[str, str]]:
        m = self.m
        weights = "pretrained" if m.pretrained else "from scratch"
        if m.encoder == "proscale":
            extras = [name for name, on in (("TRC", m.trc), ("LPE", m.lpe)) if on]
            encoder = f"PRO-SCALE ({', '.join(map(str, m.stages))}){' + ' + ' + '.join(extras) if extras else ''}"
        else:
            encoder = f"{m.encoder_layers}-layer deformable-attention"
        return [
            (
                "model",
                f"mask2former, {m.backbone} ({weights}) + {encoder} pixel decoder, "
                f"{m.decoder_layers}-layer masked-attention decoder, {m.queries} queries of {m.dim}",
            ),
            (
                "loss",
                f"{m.class_weight:g} x class CE (no-object {m.no_object_weight:g}) + {m.mask_weight:g} x mask BCE + "
                f"{m.dice_weight:g} x Dice on {m.num_points} points",
            ),
            ("output", "panoptic (instances and class regions)" if m.panoptic else "semantic"),
        ]

    def flop_components(self) -> dict[str, nn.Module]:
        """The parts ``rleseg flops`` reports apart (backbone, pixel decoder, transformer decoder)."""
        return components(self.model)

    def parameter_groups(self) -> list[dict[str, Any]]:
        """The backbone at ``train.backbone_lr`` (default ``train.lr``), the rest at ``train.lr``."""
        t = self.cfg.train
        backbone = [p for p in backbone_module(self.model).parameters() if p.requires_grad]
        ids = {id(p) for p in backbone}
        rest = [p for p in self.model.parameters() if p.requires_grad and id(p) not in ids]
        groups: list[dict[str, Any]] = [{"params": rest, "lr": t.lr}]
        if backbone:
            groups.append({"params": backbone, "lr": t.backbone_lr or t.lr})
        return groups

    # ----- the network --------------------------------------------------------------------------------
    def pixels(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 windows ``(B, 3, H, W)`` -> normalised float ``(B, 3, H', W')``, zero-padded (the mean colour) at
        the bottom and right to multiples of 32."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected windows (B, 3, H, W), got {tuple(images.shape)}")
        if images.dtype != torch.uint8:
            raise ValueError(f"expected uint8 windows (0..255), got {images.dtype}")
        x = (images.float() - self.pixel_mean) / self.pixel_std
        h, w = x.shape[-2:]
        return F.pad(x, (0, -w % PAD_MULTIPLE, 0, -h % PAD_MULTIPLE))

    def forward(self, images: torch.Tensor) -> Any:
        """uint8 windows ``(B, 3, H, W)`` -> transformers' output: ``class_queries_logits`` ``(B, Q, K + 1)`` and
        ``masks_queries_logits`` ``(B, Q, H'/4, W'/4)`` of the padded input, ``auxiliary_logits`` (one dict of the
        two per earlier decoder layer)."""
        return self.model(pixel_values=self.pixels(images), output_auxiliary_logits=True)

    # ----- training -----------------------------------------------------------------------------------
    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """transformers' Mask2Former loss (all decoder layers) against the targets of ``batch["mask"]`` (and
        ``batch["instances"]`` when panoptic), ``(B, P, P)``; logs the last layer's class CE, mask BCE and Dice
        (``ce``, ``mask_bce``, ``dice_loss``, weighted)."""
        images, masks = batch["image"], batch["mask"].long()
        if masks.shape != (images.shape[0], *images.shape[-2:]):
            raise ValueError(f"labels {tuple(masks.shape)} are not at the window size {tuple(images.shape[-2:])}")
        instances = batch["instances"].long() if self.m.panoptic else None
        x = self.pixels(images)
        mask_labels, class_labels = batch_targets(masks, instances, self.num_classes, (x.shape[-2], x.shape[-1]))
        out = self.model(pixel_values=x, output_auxiliary_logits=True)
        terms: dict[str, torch.Tensor] = self.model.get_loss_dict(
            out.masks_queries_logits, out.class_queries_logits, mask_labels, class_labels, out.auxiliary_logits
        )
        total = torch.stack(list(terms.values())).sum()
        logs = {name: terms[key].detach() for name, key in LOSS_TERMS.items()}
        return total, logs

    # ----- prediction ---------------------------------------------------------------------------------
    @torch.no_grad()
    def predict_windows(self, images: torch.Tensor, previous: WindowPrediction | None = None) -> WindowPrediction:
        """uint8 windows ``(B, 3, P, P)`` -> class masks ``(B, P, P)`` (argmax of the semantic probabilities, or
        panoptic segments) and, when panoptic, instance ids; semantic models add ``extras["probs"]``
        ``(B, C + 1, P, P)``. ``previous`` is ignored (frames are predicted independently)."""
        m = self.m
        size = (images.shape[-2], images.shape[-1])
        out = self(images)
        masks, instances, probs = [], [], []
        for b in range(images.shape[0]):  # one window at a time: Q full-size masks each
            class_logits = out.class_queries_logits[b].float()
            query_masks = window_masks(out.masks_queries_logits[b].float(), size)  # (Q, P, P)
            p = semantic_probs(class_logits, query_masks, self.num_classes, m.panoptic)
            semantic = p.argmax(0)
            if m.panoptic:
                classes, ids = panoptic_segments(
                    class_logits, query_masks, semantic, self.num_classes, m.object_threshold, m.overlap_threshold
                )
                masks.append(classes)
                instances.append(ids)
            else:
                masks.append(semantic)
                probs.append(p)
        if m.panoptic:
            return WindowPrediction(torch.stack(masks), torch.stack(instances))
        return WindowPrediction(torch.stack(masks), None, {"probs": torch.stack(probs)})
