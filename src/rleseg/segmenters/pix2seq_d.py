"""The ``pix2seq-d`` family: panoptic segmentation by bit diffusion (Pix2Seq-D), for images and, streaming,
for videos.

A window's class and instance ids become analog bits (:mod:`rleseg.models.bitdiffusion.bits`); training
corrupts them at a random time of the cosine schedule and the network predicts the clean bits, conditioned on
the image (and, for video, on the previous frames' masks); sampling runs DDIM from noise and thresholds the
last prediction. Each predicted instance then takes the majority class of its pixels and small instances are
dropped (with ``clean_ids``, after a clean-up of the decoded ids: :mod:`rleseg.models.bitdiffusion.clean_ids`).
Evaluation uses an exponential moving average of the weights. The output is instance-aware; with
``previous_frames`` > 0 the model is streaming: the Predictor hands every window its own previous prediction,
so instance ids stay the same from frame to frame (tracks). Such a model trains on clips of
``previous_frames + 1`` frames (the earlier frames' ground truth conditions the last one).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from rleseg.config import Config
from rleseg.models.bitdiffusion.bits import BitLayout, decode_panoptic, encode_panoptic
from rleseg.models.bitdiffusion.decoder import MaskDecoder
from rleseg.models.bitdiffusion.encoder import PyramidEncoder
from rleseg.models.bitdiffusion.head import bit_loss, check_loss, logit_channels
from rleseg.models.bitdiffusion.net import BitDiffusionNet
from rleseg.models.bitdiffusion.postprocess import clean_and_vote, majority_vote
from rleseg.models.bitdiffusion.schedule import add_noise, ddim_sample, gamma_cosine
from rleseg.models.bitdiffusion.targets import drop_previous, instance_weights, permute_instances
from rleseg.segmenters.base import Segmenter
from rleseg.segmenters.pix2seq_d_config import Pix2SeqDConfig
from rleseg.segmenters.spec import OutputSpec, WindowPrediction

HISTORY = "history"  # extras key: (B, previous_frames, 2, h, w) class and instance ids, latest frame first


def check_config(m: Pix2SeqDConfig, num_classes: int) -> BitLayout:
    """The bit layout of ``m``; ValueError naming the setting that cannot build a model of ``num_classes``."""
    layout = BitLayout(m.class_bits, m.instance_bits)
    if layout.max_class < num_classes:
        raise ValueError(
            f"model.pix2seq-d.class_bits: {m.class_bits} bits hold class ids up to {layout.max_class}, the data has "
            f"{num_classes} classes"
        )
    check_loss(m.loss, layout)
    checks = [
        ("scale", m.scale > 0, "a positive number"),
        ("weight_p", m.weight_p >= 0, "a number >= 0"),
        ("ema_decay", 0 <= m.ema_decay < 1, "a number in [0, 1)"),
        ("steps", m.steps >= 1, "at least 1"),
        ("video_steps", m.video_steps >= 1, "at least 1"),
        ("td", m.td >= 0, "a number >= 0"),
        ("min_area", m.min_area >= 0, "a number >= 0"),
        ("previous_frames", m.previous_frames in (0, 1, 2), "0 (images), 1 or 2 (streaming video)"),
        ("drop_previous", 0 <= m.drop_previous <= 1, "a probability in [0, 1]"),
        ("mask_size", m.mask_size is None or m.mask_size >= 1, "null or a positive side"),
        ("levels", len(m.levels) >= 1, "at least one feature level"),
    ]
    for name, ok, expected in checks:
        if not ok:
            raise ValueError(f"model.pix2seq-d.{name}: expected {expected}, got {getattr(m, name)!r}")
    return layout


def _ema_fn(decay: float) -> Any:
    """EMA update ``avg + (1 - d) (param - avg)`` with ``d = min(decay, (1 + n) / (10 + n))`` after ``n``
    updates (a short run's average does not lag far behind)."""

    def update(averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor) -> torch.Tensor:
        n = float(num_averaged)
        d = min(decay, (1 + n) / (10 + n))
        return averaged + (1 - d) * (current - averaged)

    return update


class Pix2SeqDSegmenter(Segmenter):
    """Pix2Seq-D for ``config``'s ``model.pix2seq-d`` section and ``class_names`` (background first).
    ``pretrained``: let ``model.pix2seq-d.pretrained`` download timm weights (False when a checkpoint's
    weights replace them)."""

    family: ClassVar[str] = "pix2seq-d"

    def __init__(self, config: dict[str, Any], class_names: list[str], *, pretrained: bool = True) -> None:
        super().__init__(config, class_names)
        self.save_hyperparameters(ignore=["pretrained"])
        m = self.m
        self.layout = check_config(m, len(self.class_names) - 1)
        k = self.layout.channels
        encoder = PyramidEncoder(
            m.backbone,
            tuple(m.levels),
            m.dim,
            m.heads,
            m.encoder_layers,
            m.fuse_dim,
            pretrained=m.pretrained and pretrained,
        )
        in_channels = k + m.fuse_dim + m.previous_frames * k + (k if m.self_condition else 0)
        decoder = MaskDecoder(
            in_channels,
            logit_channels(self.layout, m.loss),
            m.decoder_dim,
            tuple(m.decoder_mults),
            m.dim,
            m.heads,
            m.decoder_layers,
        )
        self.net = BitDiffusionNet(
            encoder, decoder, self.layout, m.loss, m.scale, m.previous_frames, m.self_condition, m.normalize_input
        )
        self.ema = AveragedModel(self.net, avg_fn=_ema_fn(m.ema_decay), use_buffers=True)
        self.ema.requires_grad_(False)

    @property
    def m(self) -> Pix2SeqDConfig:
        """This model's ``model.pix2seq-d`` section."""
        section: Pix2SeqDConfig = self.cfg.model.section("pix2seq-d")
        return section

    @classmethod
    def create(cls, cfg: Config, class_names: list[str]) -> Pix2SeqDSegmenter:
        """A new model for ``cfg.model.pix2seq-d`` (random backbone unless ``pretrained``)."""
        return cls(cfg.to_dict(), list(class_names))

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> Pix2SeqDSegmenter:
        """Rebuild from a loaded checkpoint dict without downloading backbone weights (its own replace them)."""
        model = cls(**checkpoint["hyper_parameters"], pretrained=False)
        model.load_state_dict(checkpoint["state_dict"])
        return model

    @classmethod
    def takes_clips(cls, cfg: Config) -> bool:
        """A streaming model (``previous_frames`` > 0) trains on clips, so video datasets stay videos."""
        return int(cfg.model.section("pix2seq-d").previous_frames) > 0

    def train_frames(self) -> int | None:
        """Clips of ``previous_frames + 1`` frames for a streaming model; single images otherwise."""
        return self.m.previous_frames + 1 if self.m.previous_frames else None

    @property
    def spec(self) -> OutputSpec:
        size = self.m.mask_size
        return OutputSpec(
            mask_size=None if size is None else (size, size),
            num_frames=None,
            class_names=tuple(self.class_names),
            instance_aware=True,
            streaming=self.m.previous_frames > 0,
        )

    @property
    def num_parameters(self) -> int:
        """Parameters of the network (the EMA copy not counted)."""
        return sum(p.numel() for p in self.net.parameters())

    def describe(self) -> list[tuple[str, str]]:
        m = self.m
        video = f", streaming on {m.previous_frames} previous frame(s)" if m.previous_frames else ""
        later = f" ({m.video_steps} after a video's first frame)" if m.previous_frames else ""
        return [
            ("model", f"pix2seq-d, {m.backbone} + {m.encoder_layers}-layer encoder, U-Net decoder{video}"),
            (
                "diffusion",
                f"{m.class_bits}+{m.instance_bits} bits at scale {m.scale:g}, {m.loss} loss, p={m.weight_p:g}",
            ),
            ("sampling", f"{m.steps} DDIM steps{later}, td={m.td:g}"),
        ]

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Update the evaluation weights (EMA) after every optimizer step."""
        self.ema.update_parameters(self.net)

    def _eval_net(self) -> nn.Module:
        """The EMA weights once updated (outside training), else the live ones."""
        if not self.training and int(self.ema.n_averaged) > 0:
            return self.ema.module
        return self.net

    # ----- training -----------------------------------------------------------------------------------
    def _previous_bits(self, classes: torch.Tensor, instances: torch.Tensor) -> torch.Tensor:
        """Labels of the previous frames ``(B, k, h, w)`` (latest first) -> bits ``(B, k * K, h, w)``."""
        b, k = classes.shape[:2]
        bits = encode_panoptic(classes.flatten(0, 1), instances.flatten(0, 1), self.layout, self.m.scale)
        return bits.view(b, k * self.layout.channels, *bits.shape[-2:])

    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Weighted cross-entropy of the predicted clean bits of ``batch["mask"]``/``["instances"]`` (clips:
        their last frame, conditioned on the earlier frames' ground truth); logs the pixel accuracy of the
        decoded class (``class_acc``) and instance bits (``instance_acc``; ``instance_acc_fg`` on instance pixels
        only)."""
        m = self.m
        images, classes, instances = batch["image"], batch["mask"].long(), batch["instances"].long()
        previous = None
        instances = permute_instances(instances, self.layout.max_instance)  # one draw per sample or clip
        if m.previous_frames:
            if images.ndim != 5 or images.shape[1] != m.previous_frames + 1:
                raise ValueError(
                    f"a streaming pix2seq-d model trains on clips of {m.previous_frames + 1} frames, got images "
                    f"{tuple(images.shape)}"
                )
            prev_c, prev_i = classes[:, :-1].flip(1), instances[:, :-1].flip(1)  # latest first
            bits = self._previous_bits(prev_c, prev_i).view(images.shape[0], m.previous_frames, -1, *classes.shape[-2:])
            previous = drop_previous(bits, m.drop_previous).flatten(1, 2)
            images, classes, instances = images[:, -1], classes[:, -1], instances[:, -1]
        x0 = encode_panoptic(classes, instances, self.layout, m.scale)  # (B, K, h, w)
        t = torch.rand(x0.shape[0], device=x0.device)
        gamma = gamma_cosine(t).to(x0.device)
        x_t = add_noise(x0, gamma, torch.randn_like(x0))
        features = self.net.encode(images, (x0.shape[-2], x0.shape[-1]))
        x0_previous = None
        if m.self_condition and bool(torch.rand(()) < 0.5):
            with torch.no_grad():
                x0_previous = self.net.x0(self.net.logits(x_t, gamma, features, previous)).detach()
        logits = self.net.logits(x_t, gamma, features, previous, x0_previous)
        loss = bit_loss(logits, classes, instances, instance_weights(instances, m.weight_p), self.layout, m.loss)
        with torch.no_grad():
            pred_c, pred_i = decode_panoptic(self.net.x0(logits), self.layout)
        fg = instances > 0
        logs = {
            "class_acc": (pred_c == classes).float().mean(),
            "instance_acc": (pred_i == instances).float().mean(),
            # on instance pixels only: background dominates instance_acc, and a denoiser that has not learned
            # to read the ids in x_t scores ~0 here at every noise level
            "instance_acc_fg": (pred_i == instances)[fg].float().mean()
            if bool(fg.any())
            else pred_c.new_ones(()).float(),
        }
        return loss, logs

    # ----- prediction ---------------------------------------------------------------------------------
    @torch.no_grad()
    def predict_windows(self, images: torch.Tensor, previous: WindowPrediction | None = None) -> WindowPrediction:
        """uint8 windows ``(B, 3, P, P)`` -> class masks and instance ids ``(B, h, w)`` at ``spec.label_size(P)``,
        sampled in ``steps`` DDIM steps (``video_steps`` when ``previous`` is given to a streaming model).
        A clip ``(B, N, 3, P, P)`` is streamed from its first frame (``(B, N, h, w)`` out; used in validation).
        ``extras["history"]``: ``(B, previous_frames, 2, h, w)`` class and instance ids of this frame and the
        ones before it (-1 before a video's first frame), read back when this prediction comes as ``previous``."""
        if images.ndim == 5:
            frames, prev = [], previous
            for i in range(images.shape[1]):
                prev = self.predict_windows(images[:, i], prev if self.m.previous_frames else None)
                frames.append(prev)
            inst = torch.stack([f.instances for f in frames if f.instances is not None], 1)
            return WindowPrediction(torch.stack([f.masks for f in frames], 1), inst)
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected windows (B, 3, P, P) or clips (B, N, 3, P, P), got {tuple(images.shape)}")
        m = self.m
        size = self.spec.label_size(images.shape[-1])
        net = self._eval_net()
        assert isinstance(net, BitDiffusionNet)
        features = net.encode(images, size)
        history, cond = self._condition(images.shape[0], size, previous, images.device)
        generator = torch.Generator(device=images.device).manual_seed(m.seed)
        # the state at t = 1: the same draw for every window, so a window's prediction does not depend on its batch
        noise = torch.randn(1, self.layout.channels, *size, generator=generator, device=images.device)
        noise = noise.expand(images.shape[0], -1, -1, -1)

        def denoise(x_t: torch.Tensor, gamma: torch.Tensor, x0_prev: torch.Tensor | None) -> torch.Tensor:
            return net.x0(net.logits(x_t, gamma, features, cond, x0_prev))

        steps = m.video_steps if previous is not None and m.previous_frames else m.steps
        x0 = ddim_sample(denoise, noise, steps, m.td, m.scale, m.self_condition)
        classes, instances = decode_panoptic(x0, self.layout)
        if m.clean_ids:
            classes, instances = clean_and_vote(
                classes, instances, self.spec.num_classes, m.min_area, self.layout.max_instance
            )
        else:
            classes, instances = majority_vote(classes, instances, self.spec.num_classes, m.min_area)
        extras = {}
        if m.previous_frames:
            now = torch.stack([classes, instances], 1)[:, None]  # (B, 1, 2, h, w)
            extras[HISTORY] = torch.cat([now, history], 1)[:, : m.previous_frames]
        return WindowPrediction(classes, instances, extras)

    def _condition(
        self, b: int, size: tuple[int, int], previous: WindowPrediction | None, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The history of labels ``(B, previous_frames, 2, h, w)`` (-1: no such frame) and the decoder's previous-frame
        bits ``(B, previous_frames * K, h, w)`` (zeros where a frame is missing), or None for an image model."""
        k = self.m.previous_frames
        history = torch.full((b, k, 2, *size), -1, dtype=torch.int64, device=device)  # -1: no such frame
        if previous is not None and k:
            got = previous.extras.get(HISTORY)
            if got is None:  # a prediction without history: its own masks are the latest frame
                inst = previous.instances if previous.instances is not None else torch.zeros_like(previous.masks)
                got = torch.stack([previous.masks, inst], 1)[:, None]
            if tuple(got.shape[-2:]) != size or got.shape[0] != b:
                raise ValueError(f"previous prediction of shape {tuple(got.shape)} does not fit {b} windows of {size}")
            n = min(k, got.shape[1])
            history[:, :n] = got[:, :n].to(device)
        if not k:
            return history, None
        present = (history[:, :, 0] >= 0).flatten(2).all(-1)  # (B, k)
        known = history.clamp(min=0)
        bits = self._previous_bits(known[:, :, 0], known[:, :, 1]).view(b, k, -1, *size)
        bits = bits * present[..., None, None, None].to(bits)
        return history, bits.flatten(1, 2)
