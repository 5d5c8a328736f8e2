"""The ``smp`` family: per-pixel baselines from segmentation_models_pytorch (Unet, Unet++, DeepLabV3+, FPN,
SegFormer) on any smp or timm (``tu-``) encoder.

The module takes the uint8 windows of the data module and normalises them itself (ImageNet mean and std), so
training, validation and the Predictor feed it the same way. Windows whose side is not a multiple of the
encoder's output stride are padded at the bottom and right with the mean colour (zeros after normalisation)
and the logits cropped back, in training and prediction alike, so any window size P works (e.g. 250). Labels
are at the window size (``spec.mask_size`` None); the loss is ``ce_weight * CE + dice_weight * soft Dice``
(:mod:`rleseg.segmenters.losses`) and prediction returns the argmax masks with the class probabilities in
``extras["probs"]``, which the Predictor averages where windows overlap (``default_merge = "average"``).
Videos are predicted frame by frame.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, ClassVar, cast

import torch
import torch.nn.functional as F
from torch import nn

from rleseg.config import Config
from rleseg.segmenters.base import Segmenter
from rleseg.segmenters.losses import ce_dice_loss, pixel_counts, sqrt_inverse_weights
from rleseg.segmenters.smp_config import SmpConfig
from rleseg.segmenters.spec import OutputSpec, WindowPrediction

ARCHS = ("unet", "unetplusplus", "deeplabv3plus", "fpn", "segformer")
CLASS_WEIGHT_MODES = ("none", "sqrt-inverse")
WEIGHT_FILE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ----- building the smp model -------------------------------------------------------------------------
def is_weight_file(value: str | None) -> bool:
    """Whether ``encoder_weights`` names a local file (a path or a weights-file suffix) rather than a set of
    downloadable weights such as ``"imagenet"``."""
    if value is None:
        return False
    return value.endswith(WEIGHT_FILE_SUFFIXES) or "/" in value or "\\" in value or Path(value).is_file()


def check_encoder(name: str) -> None:
    """ValueError naming ``name`` and the choices unless it is an smp encoder or ``tu-<timm model>``."""
    import timm
    from segmentation_models_pytorch.encoders import get_encoder_names

    if name.startswith("tu-"):
        if timm.is_model(name[3:]):
            return
        close = difflib.get_close_matches(name[3:].split(".")[0], timm.list_models(), n=3)
        hint = f" (did you mean {', '.join('tu-' + c for c in close)}?)" if close else ""
        raise ValueError(
            f"model.smp.encoder: {name!r} is not a timm model{hint}; choices: tu-<a name from timm.list_models()> "
            "(e.g. tu-resnet18, tu-regnetx_002) or an smp encoder (e.g. resnet18)"
        )
    smp_names = get_encoder_names()
    if name not in smp_names:
        raise ValueError(
            f"model.smp.encoder: unknown encoder {name!r}; choices: tu-<a timm model> (e.g. tu-resnet18) or one of "
            f"smp's: {', '.join(smp_names)}"
        )


def check_config(cfg: SmpConfig, num_classes: int) -> None:
    """ValueError naming the setting for an ``model.smp`` section that cannot build a model of
    ``num_classes`` + 1 outputs (unknown arch or encoder, depth, loss weights, class weights)."""
    if cfg.arch not in ARCHS:
        raise ValueError(f"model.smp.arch: unknown architecture {cfg.arch!r}; choices: {', '.join(ARCHS)}")
    check_encoder(cfg.encoder)
    if not 3 <= cfg.encoder_depth <= 5:
        raise ValueError(f"model.smp.encoder_depth: expected 3, 4 or 5, got {cfg.encoder_depth}")
    if cfg.decoder_channels < 1:
        raise ValueError(f"model.smp.decoder_channels: expected a positive width, got {cfg.decoder_channels}")
    if cfg.ce_weight < 0 or cfg.dice_weight < 0 or cfg.ce_weight + cfg.dice_weight == 0:
        raise ValueError(
            f"model.smp.ce_weight / dice_weight: expected weights >= 0, not both 0, got {cfg.ce_weight} and "
            f"{cfg.dice_weight}"
        )
    fixed_class_weights(cfg.class_weight, num_classes)


def fixed_class_weights(class_weight: str | list[float], num_classes: int) -> torch.Tensor | None:
    """The ``(C + 1,)`` weights of a list ``class_weight`` (None for the modes); ValueError for an unknown
    mode, a list of the wrong length or a negative weight."""
    if isinstance(class_weight, str):
        if class_weight not in CLASS_WEIGHT_MODES:
            raise ValueError(
                f"model.smp.class_weight: unknown mode {class_weight!r}; choices: {', '.join(CLASS_WEIGHT_MODES)} "
                f"or a list of {num_classes + 1} numbers (background first)"
            )
        return None
    weights = [float(w) for w in class_weight]
    if len(weights) != num_classes + 1:
        raise ValueError(
            f"model.smp.class_weight: expected {num_classes + 1} numbers (background and {num_classes} "
            f"class{'es' if num_classes != 1 else ''}), got {len(weights)}: {weights}"
        )
    if min(weights) < 0 or sum(weights) == 0:
        raise ValueError(f"model.smp.class_weight: weights must be >= 0 and not all 0, got {weights}")
    return torch.tensor(weights, dtype=torch.float32)


def decoder_kwargs(arch: str, channels: int, depth: int) -> dict[str, Any]:
    """smp constructor arguments for a decoder of width ``channels`` (see :class:`SmpConfig`)."""
    if arch in ("unet", "unetplusplus"):
        return {"decoder_channels": tuple(max(channels >> i, 8) for i in range(depth))}
    if arch == "fpn":
        # smp's FPN decoder always merges 4 levels and upsamples by 4, right only for depth 5: a shallower
        # encoder ends 2x (depth 4) or 4x (depth 3) finer, so the final upsampling shrinks to match
        return {
            "decoder_pyramid_channels": channels,
            "decoder_segmentation_channels": max(channels // 64 * 32, 32),  # GroupNorm(32): a multiple of 32
            "upsampling": 2 ** (depth - 3),
        }
    if arch == "deeplabv3plus":
        return {"decoder_channels": channels}
    return {"decoder_segmentation_channels": channels}  # segformer


def build_smp_model(cfg: SmpConfig, num_outputs: int, pretrained: bool = True) -> nn.Module:
    """The smp model of ``cfg`` with ``num_outputs`` logits per pixel. ``pretrained``: fetch or read
    ``cfg.encoder_weights`` (False: random encoder, e.g. when a checkpoint's weights replace it)."""
    import segmentation_models_pytorch as smp

    weights: Any = None
    if pretrained and cfg.encoder_weights is not None and not is_weight_file(cfg.encoder_weights):
        weights = True if cfg.encoder.startswith("tu-") else cfg.encoder_weights  # tu-: the tag is in the name
    try:
        model = smp.create_model(
            cfg.arch,
            encoder_name=cfg.encoder,
            encoder_weights=weights,
            encoder_depth=cfg.encoder_depth,
            in_channels=3,
            classes=num_outputs,
            **decoder_kwargs(cfg.arch, cfg.decoder_channels, cfg.encoder_depth),
        )
    except (KeyError, ValueError, RuntimeError, AssertionError, TypeError, OSError) as err:
        msg = str(err.args[0]) if err.args else str(err)
        if isinstance(err, OSError):  # huggingface_hub: no network, or no such file on the hub
            msg += " (pretrained weights are downloaded: set encoder_weights to null, or to a local file)"
        raise ValueError(
            f"model.smp: cannot build {cfg.arch} with encoder {cfg.encoder} (depth {cfg.encoder_depth}, weights "
            f"{cfg.encoder_weights}): {msg}"
        ) from None
    if pretrained and is_weight_file(cfg.encoder_weights):
        load_encoder_weights(model.encoder, Path(str(cfg.encoder_weights)))
    return model


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ValueError(f"model.smp.encoder_weights: {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a broken or foreign file raises many kinds of error
        raise ValueError(f"model.smp.encoder_weights: cannot read {path} ({type(err).__name__}: {err})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"model.smp.encoder_weights: {path} holds no state dict of tensors")
    return state


def load_encoder_weights(encoder: nn.Module, path: Path) -> None:
    """Load the encoder's weights from a local state-dict file (offline). Keys may be the encoder's own,
    prefixed ``encoder.`` (a whole smp model) or, for ``tu-`` encoders, a plain timm model's (the encoder
    wraps it as ``model.``); extra keys (a classifier head) are ignored. ValueError naming the file when
    tensors are missing or of another shape."""
    state = _read_state_dict(path)
    own = encoder.state_dict()
    variants = [
        state,
        {k.removeprefix("encoder."): v for k, v in state.items()},
        {f"model.{k}": v for k, v in state.items()},
    ]
    best = max(variants, key=lambda sd: len(own.keys() & sd.keys()))
    missing = sorted(k for k in own if k not in best and not k.endswith("num_batches_tracked"))
    if missing:
        raise ValueError(
            f"model.smp.encoder_weights: {path} lacks {len(missing)} of the encoder's {len(own)} tensors "
            f"(e.g. {', '.join(missing[:3])})"
        )
    wrong = [k for k in own if k in best and best[k].shape != own[k].shape]
    if wrong:
        k = wrong[0]
        raise ValueError(
            f"model.smp.encoder_weights: {path}: {len(wrong)} tensors differ in shape from the encoder's "
            f"(e.g. {k}: {tuple(best[k].shape)} in the file, {tuple(own[k].shape)} in the model)"
        )
    encoder.load_state_dict({k: best[k] for k in own if k in best}, strict=False)


# ----- the family ---------------------------------------------------------------------------------------
class SmpSegmenter(Segmenter):
    """A segmentation_models_pytorch model of ``config``'s ``model.smp`` section for ``class_names``
    (background first). ``pretrained``: fetch or read ``model.smp.encoder_weights`` while building (False
    when a checkpoint's weights replace them: a checkpoint never downloads or reads a weights file)."""

    family: ClassVar[str] = "smp"  # also when imported directly rather than through the registry
    default_merge: ClassVar[str] = "average"
    pixel_mean: torch.Tensor  # (1, 3, 1, 1) buffers, in 0..255 units
    pixel_std: torch.Tensor
    class_pixels: torch.Tensor  # (C + 1,) int64 buffer

    def __init__(self, config: dict[str, Any], class_names: list[str], *, pretrained: bool = True) -> None:
        super().__init__(config, class_names)
        self.save_hyperparameters(ignore=["pretrained"])
        m = self.cfg.model.smp
        check_config(m, len(self.class_names) - 1)
        self.model = build_smp_model(m, len(self.class_names), pretrained=pretrained)
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255, persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255, persistent=False)
        # training pixels of each class seen so far (class_weight "sqrt-inverse"); kept in checkpoints
        self.register_buffer("class_pixels", torch.zeros(len(self.class_names), dtype=torch.int64))
        self._fixed_weights = fixed_class_weights(m.class_weight, len(self.class_names) - 1)

    @classmethod
    def create(cls, cfg: Config, class_names: list[str]) -> SmpSegmenter:
        """A new model for ``cfg.model.smp`` (encoder weights as ``encoder_weights`` says)."""
        return cls(cfg.to_dict(), list(class_names))

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> SmpSegmenter:
        """Rebuild from a loaded checkpoint dict without fetching or reading the encoder weights again."""
        model = cls(**checkpoint["hyper_parameters"], pretrained=False)
        model.load_state_dict(checkpoint["state_dict"])
        return model

    @property
    def spec(self) -> OutputSpec:
        return OutputSpec(mask_size=None, num_frames=None, class_names=tuple(self.class_names), instance_aware=False)

    @property
    def encoder(self) -> nn.Module:
        """The smp model's encoder."""
        return cast(nn.Module, self.model.encoder)

    @property
    def stride(self) -> int:
        """Window sides are padded to a multiple of this (the encoder's output stride)."""
        return int(getattr(self.encoder, "output_stride", 2**self.cfg.model.smp.encoder_depth))

    def describe(self) -> list[tuple[str, str]]:
        m = self.cfg.model.smp
        if m.encoder_weights is None:
            weights = "from scratch"
        elif is_weight_file(m.encoder_weights):
            weights = f"encoder weights {m.encoder_weights}"
        else:
            weights = f"{m.encoder_weights} weights"
        cw = m.class_weight if isinstance(m.class_weight, str) else "[" + ", ".join(map(str, m.class_weight)) + "]"
        return [
            ("model", f"smp {m.arch}, encoder {m.encoder} ({weights})"),
            ("loss", f"{m.ce_weight:g} x cross-entropy + {m.dice_weight:g} x soft Dice, class weights {cw}"),
        ]

    def parameter_groups(self) -> list[dict[str, Any]]:
        """The encoder at ``train.backbone_lr`` (default ``train.lr``), decoder and head at ``train.lr``."""
        t = self.cfg.train
        encoder = [p for p in self.encoder.parameters() if p.requires_grad]
        encoder_ids = {id(p) for p in encoder}
        rest = [p for p in self.model.parameters() if p.requires_grad and id(p) not in encoder_ids]
        groups = [{"params": rest, "lr": t.lr}]
        if encoder:
            groups.append({"params": encoder, "lr": t.backbone_lr or t.lr})
        return groups

    # ----- training -----------------------------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 windows ``(B, 3, H, W)`` -> logits ``(B, C + 1, H, W)`` (padded to the stride and cropped)."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected windows (B, 3, H, W), got {tuple(images.shape)}")
        if images.dtype != torch.uint8:
            raise ValueError(f"expected uint8 windows (0..255), got {images.dtype}")
        x = (images.float() - self.pixel_mean) / self.pixel_std  # (B, 3, H, W)
        h, w = x.shape[-2:]
        s = self.stride
        pad_h, pad_w = -h % s, -w % s
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))  # zeros: the mean colour
        logits = self.model(x)  # (B, C + 1, H', W')
        if logits.shape[-2:] != x.shape[-2:]:
            m = self.cfg.model.smp
            raise RuntimeError(
                f"smp {m.arch} with {m.encoder} (depth {m.encoder_depth}) gave logits of {tuple(logits.shape[-2:])} "
                f"for input {tuple(x.shape[-2:])}"
            )
        return logits[..., :h, :w]

    def class_weights(self, target: torch.Tensor | None = None) -> torch.Tensor | None:
        """Cross-entropy weights ``(C + 1,)`` (None: unweighted). With ``"sqrt-inverse"``, a training batch's
        labels ``target`` ``(B, H, W)`` are counted first (only in training mode)."""
        if self._fixed_weights is not None:
            return self._fixed_weights
        if self.cfg.model.smp.class_weight == "none":
            return None
        if target is not None and self.training:
            with torch.no_grad():
                self.class_pixels += pixel_counts(target, len(self.class_names)).to(self.class_pixels)
        return sqrt_inverse_weights(self.class_pixels)

    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``ce_weight * CE + dice_weight * Dice`` of the window labels ``batch["mask"]`` ``(B, P, P)``;
        logs the two terms (``ce``, ``dice_loss``)."""
        target = batch["mask"].long()
        logits = self(batch["image"])  # (B, C + 1, P, P)
        if target.shape != (logits.shape[0], *logits.shape[-2:]):
            raise ValueError(f"labels {tuple(target.shape)} are not at the window size {tuple(logits.shape[-2:])}")
        m = self.cfg.model.smp
        total, ce, dice = ce_dice_loss(logits, target, self.class_weights(target), m.ce_weight, m.dice_weight)
        return total, {"ce": ce.detach(), "dice_loss": dice.detach()}

    # ----- prediction ---------------------------------------------------------------------------------
    @torch.no_grad()
    def predict_windows(self, images: torch.Tensor, previous: WindowPrediction | None = None) -> WindowPrediction:
        """uint8 windows ``(B, 3, P, P)`` -> argmax masks ``(B, P, P)`` and ``extras["probs"]`` ``(B, C + 1, P, P)``
        (float32 softmax); ``previous`` is ignored (frames are predicted independently)."""
        probs = self(images).float().softmax(1)
        return WindowPrediction(probs.argmax(1), None, {"probs": probs})
