"""The DataModule: windows at the model's label size; token batches whose tokens decode back to the masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rleseg.data.datamodule import RLESegDataModule
from rleseg.data.sample import ListSource, Sample
from rleseg.data.weights import token_weights
from rleseg.data.windows import WindowConfig, WindowDataset
from rleseg.segmenters.token_batch import token_datamodule
from rleseg.tokenizers import EOS, PAD, create_tokenizer
from rleseg.tokenizers.batch import decode_batch


def blocks_source(num: int = 3, h: int = 90, w: int = 120, frames: int | None = None) -> ListSource:
    """Samples with two rectangular cells of classes 1 and 2, each its own instance."""
    samples = []
    rng = np.random.default_rng(0)
    for i in range(num):
        mask = np.zeros((h, w), np.int64)
        y, x = rng.integers(0, h - 40), rng.integers(0, w - 60)
        mask[y : y + 30, x : x + 40] = 1
        mask[h - 35 : h - 5, w - 50 : w - 10] = 2
        inst = np.where(mask == 1, 4, np.where(mask == 2, 9, 0))
        image = np.stack([mask * 100, inst * 20, np.full_like(mask, 50)], -1).astype(np.uint8)
        if frames:
            mask, inst, image = (np.repeat(a[None], frames, 0) for a in (mask, inst, image))
        samples.append(Sample(image, mask, inst, f"block{i}"))
    return ListSource(samples, ["background", "a", "b"])


@pytest.mark.parametrize("scheme", ["lac", "multiclass", "cw", "iw", "bac", "diff"])
def test_batches_are_train_ready_and_tokens_decode_to_the_masks(scheme: str) -> None:
    tok = create_tokenizer(scheme, mask_size=20, num_classes=2, max_len=256)
    windows = WindowConfig(patch_size=60)
    dm = token_datamodule(tok, blocks_source(), windows=windows, batch_size=4, pad_to_max_len=True)
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (4, 3, 60, 60) and batch["image"].dtype == torch.uint8
    assert batch["mask"].shape == (4, 20, 20) and batch["mask_full"].shape == (4, 60, 60)
    assert batch["targets"].shape == batch["inputs"].shape == batch["weights"].shape == (4, 256)
    decoded = decode_batch(tok, batch["targets"])
    masks = decoded[0] if tok.instance_aware else decoded
    assert torch.equal(masks, batch["mask"])
    # the subsampled mask still follows the image: red channel = mask * 100 at the window's cell centres
    red = batch["image"][:, 0, 1::3, 1::3]
    assert torch.equal(red.long(), batch["mask"] * 100)


def test_video_tokenizers_get_clips_of_n_frames() -> None:
    tok = create_tokenizer("tac", mask_size=15, num_classes=2, num_frames=2)
    source = blocks_source(2, 60, 75, frames=5)
    dm = token_datamodule(tok, source, windows=WindowConfig(patch_size=45, train_stride=45), batch_size=3)
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (3, 2, 3, 45, 45)
    assert batch["mask"].shape == (3, 2, 15, 15)
    # per video: 4 clips of 2 frames (stride T=1 over 5 frames) x 2 x 2 windows of 45 over 60 x 75
    assert len(dm.datasets["train"]) == 2 * 4 * 4


def test_training_windows_change_with_the_epoch_and_evaluation_windows_do_not() -> None:
    cfg = WindowConfig(patch_size=30, train_stride=(5, 30))
    train = WindowDataset(blocks_source(), cfg, train=True, mask_size=(10, 10))
    first = list(train.windows)
    train.set_epoch(1)
    assert train.windows != first
    evaluation = WindowDataset(blocks_source(), cfg, train=False, mask_size=(10, 10))
    before = list(evaluation.windows)
    evaluation.set_epoch(3)
    assert evaluation.windows == before


def test_validation_windows_take_val_stride_and_other_evaluation_windows_eval_stride() -> None:
    cfg = WindowConfig(patch_size=30, eval_stride=10, val_stride=30)
    dm = RLESegDataModule(blocks_source(), blocks_source(), blocks_source(), windows=cfg, batch_size=4)
    dm.setup()
    val, test = dm.datasets["val"].windows, dm.datasets["test"].windows
    # 90 x 120 images: stride 30 tiles 3 x 4 windows, stride 10 tiles 7 x 10
    assert len(val) == 3 * 3 * 4 and len(test) == 3 * 7 * 10
    assert {(w.y, w.x) for w in val} == {(y, x) for y in (0, 30, 60) for x in (0, 30, 60, 90)}
    dm = RLESegDataModule(blocks_source(), blocks_source(), windows=WindowConfig(patch_size=30, eval_stride=10))
    dm.setup()
    assert len(dm.datasets["val"].windows) == 3 * 7 * 10, "without val_stride validation keeps eval_stride"


def test_images_no_larger_than_p_are_shifted_only_when_p_is_set() -> None:
    small = blocks_source(h=90, w=120)
    shifted = WindowDataset(small, WindowConfig(patch_size=128), train=True, mask_size=(32, 32))
    corners = set()
    for epoch in range(6):
        shifted.set_epoch(epoch)
        assert len(shifted.windows) == len(small), "still one window per image"
        corners |= {(w.y, w.x) for w in shifted.windows}
    # offsets in [L - P - P/8, P/8] along each axis (P = 128, P/8 = 16)
    assert len(corners) > 1 and all(90 - 144 <= y <= 16 and 120 - 144 <= x <= 16 for y, x in corners)
    whole = WindowDataset(small, WindowConfig(patch_size=None), train=True, mask_size=(32, 32))
    for epoch in range(3):
        whole.set_epoch(epoch)
        assert {(w.y, w.x) for w in whole.windows} == {(0, 0)}, "no patch size: the window is the whole image"


def test_batches_are_padded_to_their_longest_sequence_by_default() -> None:
    tok = create_tokenizer("lac", mask_size=20, num_classes=2, max_len=256)
    dm = token_datamodule(tok, blocks_source(), windows=WindowConfig(patch_size=60), batch_size=4)
    batch = next(iter(dm.train_dataloader()))
    assert batch["targets"].shape[1] == int(batch["lengths"].max()) < 256


def test_plain_datamodule_gives_windows_without_tokens() -> None:
    dm = RLESegDataModule(blocks_source(), batch_size=2, mask_size=(30, 30))
    batch = next(iter(dm.train_dataloader()))
    assert "targets" not in batch and batch["mask"].shape == (2, 30, 30)
    full = next(
        iter(RLESegDataModule(blocks_source(), windows=WindowConfig(patch_size=60), batch_size=2).train_dataloader())
    )
    assert torch.equal(full["mask"], full["mask_full"]), "without a label size the labels stay at P"


def test_dataset_and_model_must_agree() -> None:
    with pytest.raises(ValueError, match="num_classes=1"):
        token_datamodule(create_tokenizer("binary", mask_size=10), blocks_source())
    with pytest.raises(ValueError, match="reads clips of 2 frames"):
        WindowDataset(blocks_source(), WindowConfig(), train=False, frames=2)


def test_weights_ignore_pad_and_equalise_class_tokens() -> None:
    tok = create_tokenizer("cw", mask_size=8, num_classes=2)
    mask = np.zeros((8, 8), np.int64)
    mask[0, :3] = 1
    mask[2, :2] = mask[4, :2] = 2
    tokens = tok.encode(mask)  # (s, l) c1  (s, l) (s, l) c2  EOS
    targets = torch.full((1, tokens.size + 2), PAD)
    targets[0, : tokens.size] = torch.from_numpy(tokens)
    w = token_weights(tok, targets, eos_weight=0.5)[0].tolist()
    assert w == [1, 1, 2, 1, 1, 1, 1, 4, 0.5, 0, 0]
    assert token_weights(tok, targets, class_weight="none")[0, 2] == 1
    assert token_weights(tok, targets, class_weight=3.0)[0, 7] == 3
    assert targets[0, 8] == EOS
    with pytest.raises(ValueError, match="class_weight"):
        token_weights(tok, targets, class_weight="loud")
