"""The smp family's losses and settings: soft Dice and weighted cross-entropy, sqrt-inverse class weights
counted from training labels, config errors that name the value and the choices, encoder weights from a local
file, and window sides that are not a multiple of the encoder's stride for every architecture."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from rleseg.config import Config, load_config
from rleseg.segmenters.losses import ce_dice_loss, cross_entropy, pixel_counts, soft_dice_loss, sqrt_inverse_weights
from rleseg.segmenters.smp import ARCHS, SmpSegmenter, load_encoder_weights

CLASSES = ["background", "a", "b"]


def tiny(**smp: object) -> Config:
    """A small Unet config (tu-resnet10t, 3 stages, decoder width 16) with ``smp`` settings on top."""
    cfg = Config()
    cfg.model.family = "smp"
    cfg.model.smp.encoder, cfg.model.smp.encoder_depth, cfg.model.smp.decoder_channels = "tu-resnet10t", 3, 16
    for key, value in smp.items():
        setattr(cfg.model.smp, key, value)
    return cfg


def onehot_logits(target: torch.Tensor, k: int, scale: float = 30.0) -> torch.Tensor:
    """Logits ``(B, K, H, W)`` that put all the probability on ``target`` ``(B, H, W)``."""
    return F.one_hot(target, k).permute(0, 3, 1, 2).float() * scale


# ----- losses -----------------------------------------------------------------------------------------
def test_dice_loss_is_zero_for_a_perfect_prediction_and_near_one_for_a_wrong_one() -> None:
    target = torch.randint(0, 3, (2, 8, 8), generator=torch.Generator().manual_seed(0))
    assert soft_dice_loss(onehot_logits(target, 3), target).item() < 1e-4
    wrong = onehot_logits((target + 1) % 3, 3)
    assert soft_dice_loss(wrong, target).item() > 0.95
    _, ce, dice = ce_dice_loss(onehot_logits(target, 3), target)
    assert ce.item() < 1e-6 and dice.item() < 1e-4


def test_dice_loss_averages_over_the_classes_present_in_the_batch() -> None:
    target = torch.zeros(1, 4, 4, dtype=torch.long)
    target[0, :2] = 1  # classes 0 and 1 present, class 2 absent
    logits = onehot_logits(target, 3)
    assert soft_dice_loss(logits, target).item() < 1e-4, "an absent class does not count"
    half = logits.clone()
    half[0, :, :2] = 0.0  # class-1 pixels now uniform over the 3 classes
    p = 1 / 3
    dice1 = (2 * 8 * p + 1) / (8 * p + 8 + 1)  # class 1: 8 pixels at 1/3
    dice0 = (2 * 8 + 1) / (8 + 8 * p + 8 + 1)  # background: right, plus 1/3 of 8 false positives
    expected = 1 - (dice0 + dice1) / 2
    assert soft_dice_loss(half, target).item() == pytest.approx(expected, abs=1e-5)
    empty = torch.zeros(0, 4, 4, dtype=torch.long)
    logits = torch.zeros(0, 3, 4, 4, requires_grad=True)
    loss = soft_dice_loss(logits, empty)
    assert loss.item() == 0.0 and loss.requires_grad
    with pytest.raises(ValueError, match="expected logits"):
        soft_dice_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 5, 5, dtype=torch.long))


def test_weighted_cross_entropy_is_the_weighted_mean_over_pixels() -> None:
    g = torch.Generator().manual_seed(1)
    logits, target = torch.randn(2, 3, 5, 5, generator=g), torch.randint(0, 3, (2, 5, 5), generator=g)
    weight = torch.tensor([0.5, 2.0, 4.0])
    per_pixel = F.cross_entropy(logits, target, reduction="none")
    w = weight[target]
    assert cross_entropy(logits, target, weight).item() == pytest.approx(
        ((w * per_pixel).sum() / w.sum()).item(), rel=1e-5
    )
    assert cross_entropy(logits, target).item() == pytest.approx(per_pixel.mean().item(), rel=1e-5)
    total, ce, dice = ce_dice_loss(logits, target, weight, ce_weight=0.5, dice_weight=0.0)
    assert dice.item() == 0.0 and total.item() == pytest.approx(0.5 * ce.item())


def test_sqrt_inverse_weights() -> None:
    w = sqrt_inverse_weights(torch.tensor([900, 100, 0]))
    raw = [1 / math.sqrt(0.9), 1 / math.sqrt(0.1)]
    mean = sum(raw) / 2
    assert w.tolist() == pytest.approx([raw[0] / mean, raw[1] / mean, 1.0])
    assert sqrt_inverse_weights(torch.zeros(3, dtype=torch.long)).tolist() == [1.0, 1.0, 1.0]
    assert pixel_counts(torch.tensor([[0, 2], [2, 2]]), 3).tolist() == [1, 0, 3]


# ----- class weights in the module --------------------------------------------------------------------
def test_sqrt_inverse_counts_training_labels_only_and_keeps_them_in_the_state_dict() -> None:
    model = SmpSegmenter.create(tiny(class_weight="sqrt-inverse"), CLASSES)
    target = torch.zeros(2, 32, 32, dtype=torch.long)
    target[:, :8] = 1  # 1/4 class 1, 3/4 background, no class 2
    batch = {"image": torch.zeros(2, 3, 32, 32, dtype=torch.uint8), "mask": target}
    model.eval()
    model.loss(batch)
    assert model.class_pixels.tolist() == [0, 0, 0], "validation batches are not counted"
    model.train()
    loss, logs = model.loss(batch)
    assert model.class_pixels.tolist() == [1536, 512, 0]
    assert set(logs) == {"ce", "dice_loss"} and torch.isfinite(loss)
    w = model.class_weights()
    assert w is not None and w[1] / w[0] == pytest.approx(math.sqrt(3)) and w[2] == 1.0
    assert model.state_dict()["class_pixels"].tolist() == [1536, 512, 0]

    fixed = SmpSegmenter.create(tiny(class_weight=[1.0, 2.0, 3.0]), CLASSES)
    weights = fixed.class_weights(target)
    assert weights is not None and weights.tolist() == [1.0, 2.0, 3.0]
    assert SmpSegmenter.create(tiny(), CLASSES).class_weights(target) is None


def test_bad_class_weights_and_settings_give_errors_naming_them() -> None:
    cfg = load_config(None, ["model.family=smp", "model.smp.class_weight=[1, 2]"])
    assert cfg.model.smp.class_weight == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"class_weight: expected 3 numbers .*got 2"):
        SmpSegmenter.create(cfg, CLASSES)
    with pytest.raises(ValueError, match=r"class_weight: expected 4 numbers"):
        SmpSegmenter.create(tiny(class_weight=[1.0, 2.0, 3.0]), [*CLASSES, "c"])
    with pytest.raises(ValueError, match=r"unknown mode 'inverse'; choices: none, sqrt-inverse"):
        SmpSegmenter.create(tiny(class_weight="inverse"), CLASSES)
    with pytest.raises(ValueError, match=r">= 0"):
        SmpSegmenter.create(tiny(class_weight=[1.0, -1.0, 1.0]), CLASSES)
    with pytest.raises(ValueError, match=r"model.smp.arch: unknown architecture 'unet3'; choices: unet, unetplusplus"):
        SmpSegmenter.create(tiny(arch="unet3"), CLASSES)
    with pytest.raises(ValueError, match=r"'tu-resnet18x' is not a timm model \(did you mean tu-resnet18"):
        SmpSegmenter.create(tiny(encoder="tu-resnet18x"), CLASSES)
    with pytest.raises(ValueError, match=r"unknown encoder 'resnet19'; choices: .*resnet18, resnet34"):
        SmpSegmenter.create(tiny(encoder="resnet19"), CLASSES)
    with pytest.raises(ValueError, match=r"encoder_depth: expected 3, 4 or 5, got 2"):
        SmpSegmenter.create(tiny(encoder_depth=2), CLASSES)
    with pytest.raises(ValueError, match=r"not both 0"):
        SmpSegmenter.create(tiny(ce_weight=0.0, dice_weight=0.0), CLASSES)


# ----- encoder weights from a file --------------------------------------------------------------------
def test_encoder_weights_load_offline_from_a_local_file(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = SmpSegmenter.create(tiny(), CLASSES).encoder
    own = tmp_path / "encoder.pth"
    torch.save(source.state_dict(), own)
    # a plain timm model's keys (tu- encoders wrap it as `model.`), with a classifier head the encoder lacks
    timm_style = {k.removeprefix("model."): v for k, v in source.state_dict().items()}
    timm_style["fc.weight"] = torch.zeros(10, 512)
    timm_file = tmp_path / "resnet10t.pth"
    torch.save(timm_style, timm_file)
    for path in (own, timm_file):
        torch.manual_seed(1)
        model = SmpSegmenter.create(tiny(encoder_weights=str(path)), CLASSES)
        for key, value in source.state_dict().items():
            assert torch.equal(model.encoder.state_dict()[key], value), key
        assert ("model", f"smp unet, encoder tu-resnet10t (encoder weights {path})") in model.describe()

    partial = dict(list(source.state_dict().items())[3:])
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match=r"partial.pth lacks \d+ of the encoder's"):
        load_encoder_weights(source, tmp_path / "partial.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"cannot read .*junk.pth"):
        SmpSegmenter.create(tiny(encoder_weights=str(tmp_path / "junk.pth")), CLASSES)
    with pytest.raises(ValueError, match=r"missing.pth does not exist"):
        SmpSegmenter.create(tiny(encoder_weights=str(tmp_path / "missing.pth")), CLASSES)


# ----- shapes -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHS)
def test_every_arch_predicts_windows_whose_side_is_not_a_multiple_of_the_stride(arch: str) -> None:
    torch.manual_seed(0)
    model = SmpSegmenter.create(tiny(arch=arch, encoder_depth=4, decoder_channels=32), CLASSES)
    images = torch.randint(0, 256, (2, 3, 50, 50), dtype=torch.uint8)
    model.train()
    loss, _ = model.loss({"image": images, "mask": torch.randint(0, 3, (2, 50, 50))})
    loss.backward()
    model.eval()
    pred = model.predict_windows(images)
    assert pred.masks.shape == (2, 50, 50) and pred.masks.dtype == torch.int64 and pred.instances is None
    probs = pred.extras["probs"]
    assert probs.shape == (2, 3, 50, 50) and torch.allclose(probs.sum(1), torch.ones(2, 50, 50))
    assert torch.equal(probs.argmax(1), pred.masks)
    spec = model.spec
    assert spec.mask_size is None and spec.num_frames is None and not spec.instance_aware
    assert spec.label_size(50) == (50, 50) and model.default_merge == "average"


def test_parameter_groups_put_the_encoder_at_the_backbone_lr() -> None:
    cfg = tiny()
    cfg.train.lr, cfg.train.backbone_lr = 1e-3, 1e-4
    model = SmpSegmenter.create(cfg, CLASSES)
    rest, encoder = model.parameter_groups()
    assert rest["lr"] == 1e-3 and encoder["lr"] == 1e-4
    assert len(encoder["params"]) == len(list(model.encoder.parameters()))
    assert len(rest["params"]) + len(encoder["params"]) == len(list(model.parameters()))
    with pytest.raises(ValueError, match="uint8"):
        model(torch.zeros(1, 3, 32, 32))
