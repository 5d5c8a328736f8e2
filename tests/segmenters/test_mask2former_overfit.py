"""A tiny Mask2Former memorises a few synthetic images, with either pixel-decoder encoder (deformable attention,
or PRO-SCALE (1, 1, 1) with TRC and LPE): its panoptic prediction gives their class masks and their instances
(each matched by a predicted instance of IoU >= 0.9), through ``predict_windows`` and the Predictor; a
checkpoint of it loads through ``load_segmenter`` to the same predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rleseg.config import Config
from rleseg.data.sample import ListSource, Sample
from rleseg.inference.predictor import Predictor
from rleseg.segmenters.base import FAMILY_KEY
from rleseg.segmenters.loading import load_segmenter
from rleseg.segmenters.mask2former import Mask2FormerSegmenter

P = 64  # windows of 64 pixels


def boxes(num: int = 3, seed: int = 0) -> ListSource:
    """64-pixel images of three 16-pixel squares in 3 of 4 places: two bright ones (class 1) and a grey one
    (class 2), each its own instance."""
    rng = np.random.default_rng(seed)
    corners = [(8, 8), (8, 40), (40, 8), (40, 40)]
    samples = []
    for i in range(num):
        mask = np.zeros((P, P), np.int64)
        inst = np.zeros((P, P), np.int64)
        for k, c in enumerate(rng.permutation(4)[:3]):
            y, x = corners[c]
            mask[y : y + 16, x : x + 16] = 1 if k < 2 else 2
            inst[y : y + 16, x : x + 16] = k + 1
        grey = np.where(mask == 1, 250, np.where(mask == 2, 120, 20))
        samples.append(Sample(np.repeat(grey[..., None], 3, -1).astype(np.uint8), mask, inst, f"box{i}"))
    return ListSource(samples, ["background", "bright", "grey"])


def tiny_config(encoder: str = "deformable") -> Config:
    """A tiny Mask2Former for 64-pixel windows; ``encoder``: ``deformable`` (1 layer) or ``proscale`` (1, 1, 1)."""
    cfg = Config()
    cfg.model.family = "mask2former"
    m = cfg.model.mask2former
    m.backbone, m.dim, m.heads, m.encoder_layers, m.encoder_ffn = "resnet10t", 64, 4, 1, 64
    m.decoder_layers, m.decoder_ffn, m.queries, m.num_points = 2, 64, 8, 512
    m.encoder = encoder
    if encoder == "proscale":
        m.stages = [1, 1, 1]
    cfg.data.patch_size = P
    return cfg


def batch_of(source: ListSource) -> dict[str, Any]:
    images = torch.from_numpy(np.stack([s.image for s in source.samples])).movedim(-1, 1).contiguous()
    masks = torch.from_numpy(np.stack([s.mask for s in source.samples]))
    inst = torch.from_numpy(np.stack([s.instances for s in source.samples]))  # type: ignore[arg-type]
    return {"image": images, "mask": masks, "instances": inst, "names": [s.name for s in source.samples]}


def instances_found(pred: np.ndarray, truth: np.ndarray, min_iou: float = 0.9) -> bool:
    """Whether every instance of ``truth`` has its own predicted instance with IoU >= ``min_iou``."""
    used: set[int] = set()
    for i in np.unique(truth[truth > 0]):
        t = truth == i
        ids, counts = np.unique(pred[t & (pred > 0)], return_counts=True)
        if ids.size == 0:
            return False
        best = int(ids[counts.argmax()])
        p = pred == best
        if best in used or (t & p).sum() / (t | p).sum() < min_iou:
            return False
        used.add(best)
    return True


def all_right(model: Mask2FormerSegmenter, batch: dict[str, Any]) -> bool:
    model.eval()
    out = model.predict_windows(batch["image"])
    model.train()
    assert out.instances is not None
    accuracy = (out.masks == batch["mask"]).float().mean().item()
    return accuracy >= 0.99 and all(
        instances_found(out.instances[i].numpy(), batch["instances"][i].numpy()) for i in range(len(out.masks))
    )


# PRO-SCALE takes ~30 s to memorise the boxes on one CPU thread (the deformable encoder ~15 s): marked slow
@pytest.fixture(scope="module", params=["deformable", pytest.param("proscale", marks=pytest.mark.slow)])
def trained(request: pytest.FixtureRequest) -> tuple[Mask2FormerSegmenter, ListSource, dict[str, Any]]:
    torch.manual_seed(0)
    source = boxes()
    batch = batch_of(source)
    model = Mask2FormerSegmenter.create(tiny_config(request.param), list(source.classes))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    model.train()
    for step in range(400):
        loss, _ = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 24 and step >= 99 and all_right(model, batch):
            break
    assert all_right(model, batch), f"{request.param}: not memorised after {step + 1} steps (loss {loss.item():.4f})"
    return model.eval(), source, batch


def test_panoptic_prediction_finds_the_masks_and_instances(trained: Any) -> None:
    model, source, batch = trained
    out = model.predict_windows(batch["image"])
    assert out.masks.shape == out.instances.shape == (3, P, P) and "probs" not in out.extras
    assert model.spec.instance_aware and model.spec.label_size(P) == (P, P)
    for sample in source.samples:
        pred = Predictor(model).predict_image(sample.image)
        assert (pred.mask == sample.mask).mean() >= 0.99, sample.name
        assert pred.instances is not None and sample.instances is not None
        assert instances_found(pred.instances, sample.instances), sample.name


def test_checkpoint_round_trip_through_load_segmenter(trained: Any, tmp_path: Path) -> None:
    model, _, batch = trained
    checkpoint: dict[str, Any] = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}
    model.on_save_checkpoint(checkpoint)
    assert checkpoint[FAMILY_KEY] == "mask2former"
    torch.save(checkpoint, tmp_path / "m2f.ckpt")
    loaded = load_segmenter(tmp_path / "m2f.ckpt").eval()
    assert isinstance(loaded, Mask2FormerSegmenter) and loaded.describe() == model.describe()
    a, b = model.predict_windows(batch["image"]), loaded.predict_windows(batch["image"])
    assert torch.equal(a.masks, b.masks) and a.instances is not None and b.instances is not None
    assert torch.equal(a.instances, b.instances)
