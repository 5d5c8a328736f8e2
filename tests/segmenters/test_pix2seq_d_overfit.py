"""A tiny Pix2Seq-D memorises a few synthetic images: DDIM sampling from noise returns their exact class
masks and the same partition into instances, through ``predict_windows`` and through the Predictor; and a
checkpoint of it loads through ``load_segmenter`` to the same predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from tests.conftest import same_partition

from rleseg.config import Config
from rleseg.data.sample import ListSource, Sample
from rleseg.inference.predictor import Predictor
from rleseg.segmenters.base import FAMILY_KEY
from rleseg.segmenters.loading import load_segmenter
from rleseg.segmenters.pix2seq_d import Pix2SeqDSegmenter

P, S = 32, 16  # windows of 32 pixels, masks of 16


def boxes(num: int = 3, seed: int = 0) -> ListSource:
    """32-pixel images of three 10-pixel squares: two bright ones (class 1) and a grey one (class 2), each
    its own instance, in random places without overlaps."""
    rng = np.random.default_rng(seed)
    samples = []
    corners = [(2, 2), (2, 18), (18, 2), (18, 18)]
    for i in range(num):
        mask = np.zeros((P, P), np.int64)
        inst = np.zeros((P, P), np.int64)
        for k, c in enumerate(rng.permutation(4)[:3]):
            y, x = corners[c]
            mask[y : y + 12, x : x + 12] = 1 if k < 2 else 2
            inst[y : y + 12, x : x + 12] = k + 1
        grey = np.where(mask == 1, 250, np.where(mask == 2, 120, 20))
        samples.append(Sample(np.repeat(grey[..., None], 3, -1).astype(np.uint8), mask, inst, f"box{i}"))
    return ListSource(samples, ["background", "bright", "grey"])


def tiny_config() -> Config:
    cfg = Config()
    cfg.model.family = "pix2seq-d"
    m = cfg.model.pix2seq_d
    m.backbone, m.levels, m.dim, m.heads, m.encoder_layers, m.fuse_dim = "regnetx_002", [1, 2], 32, 2, 1, 16
    m.decoder_dim, m.decoder_mults, m.decoder_layers = 16, [1, 2], 1
    # scale 1 and 2 instance bits (ids 1..3 for 3 squares): at the paper's scale 0.1 and with 8 bits, learning to
    # break the symmetry between instance ids takes far longer than a test; this checks the machinery
    m.mask_size, m.class_bits, m.instance_bits, m.scale = S, 2, 2, 1.0
    m.steps, m.td, m.min_area, m.ema_decay = 8, 1.0, 2, 0.0  # EMA weights = the live ones
    cfg.data.patch_size = P
    return cfg


def batch_of(source: ListSource) -> dict[str, Any]:
    images = torch.from_numpy(np.stack([s.image for s in source.samples])).movedim(-1, 1).contiguous()
    sub = slice(1, None, 2)  # nearest subsampling to S: the lower-right centre pixel of each 2 x 2 cell
    masks = torch.from_numpy(np.stack([s.mask[sub, sub] for s in source.samples]))
    inst = torch.from_numpy(np.stack([s.instances[sub, sub] for s in source.samples]))  # type: ignore[index]
    return {"image": images, "mask": masks, "instances": inst, "names": [s.name for s in source.samples]}


def all_right(model: Pix2SeqDSegmenter, batch: dict[str, Any]) -> bool:
    model.eval()
    out = model.predict_windows(batch["image"])
    model.train()
    assert out.instances is not None
    return torch.equal(out.masks, batch["mask"]) and all(
        same_partition(out.instances[i].numpy(), batch["instances"][i].numpy()) for i in range(len(out.masks))
    )


@pytest.fixture(scope="module")
def trained() -> tuple[Pix2SeqDSegmenter, ListSource, dict[str, Any]]:
    torch.manual_seed(0)
    source = boxes()
    batch = batch_of(source)
    model = Pix2SeqDSegmenter.create(tiny_config(), list(source.classes))
    opt = torch.optim.AdamW(model.net.parameters(), lr=3e-3, weight_decay=0.0)
    big = {k: (torch.cat([v] * 2) if isinstance(v, torch.Tensor) else v * 2) for k, v in batch.items()}
    model.train()
    for step in range(400):
        loss, _ = model.loss(big)  # each image twice a step, at two noise levels
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.on_train_batch_end(None, big, step)  # the EMA update Lightning calls
        if step % 25 == 24 and step >= 99 and all_right(model, batch):
            break
    assert all_right(model, batch), f"not memorised after {step + 1} steps (loss {loss.item():.4f})"
    return model.eval(), source, batch


def test_sampling_returns_the_exact_masks_and_instances(trained: Any) -> None:
    model, source, batch = trained
    out = model.predict_windows(batch["image"])
    assert out.masks.shape == out.instances.shape == (3, S, S)
    assert int(model.ema.n_averaged) > 0 and model._eval_net() is model.ema.module
    for i, sample in enumerate(source.samples):
        pred = Predictor(model).predict_image(sample.image)
        np.testing.assert_array_equal(pred.mask[1::2, 1::2], batch["mask"][i].numpy(), err_msg=sample.name)
        assert pred.instances is not None and pred.instances.shape == (P, P)
        assert same_partition(pred.instances[1::2, 1::2], batch["instances"][i].numpy()), sample.name


def test_checkpoint_round_trip_through_load_segmenter(trained: Any, tmp_path: Path) -> None:
    model, _, batch = trained
    checkpoint: dict[str, Any] = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}
    model.on_save_checkpoint(checkpoint)
    assert checkpoint[FAMILY_KEY] == "pix2seq-d" and any(k.startswith("ema.") for k in checkpoint["state_dict"])
    torch.save(checkpoint, tmp_path / "p2sd.ckpt")
    loaded = load_segmenter(tmp_path / "p2sd.ckpt").eval()
    assert isinstance(loaded, Pix2SeqDSegmenter) and loaded.describe() == model.describe()
    a, b = model.predict_windows(batch["image"]), loaded.predict_windows(batch["image"])
    assert torch.equal(a.masks, b.masks) and a.instances is not None and b.instances is not None
    assert torch.equal(a.instances, b.instances), "the starting noise is seeded: the same prediction"
