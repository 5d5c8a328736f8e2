"""Every kind of source (in-memory synthetic, folder and video folder written by ``data synth``) goes through
the same DataModule and comes out as train-ready batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rleseg.data.datamodule import RLESegDataModule
from rleseg.data.formats import open_dataset
from rleseg.data.synthetic import SyntheticCells, SyntheticCellVideos, write_synthetic
from rleseg.data.windows import WindowConfig
from rleseg.segmenters.token_batch import token_datamodule
from rleseg.tokenizers import create_tokenizer
from rleseg.tokenizers.base import Tokenizer
from rleseg.tokenizers.batch import decode_batch


def check_batch(dm: RLESegDataModule, tok: Tokenizer, batch_size: int, clip: int | None = None) -> dict:
    batch = next(iter(dm.train_dataloader()))
    lead = (batch_size,) if clip is None else (batch_size, clip)
    assert batch["image"].shape[: len(lead) + 1] == (*lead, 3)
    assert batch["mask"].shape == (batch_size, *tok.mask_shape)
    assert batch["targets"].shape == batch["inputs"].shape == batch["weights"].shape
    assert (batch["weights"][batch["targets"] == 0] == 0).all()
    decoded = decode_batch(tok, batch["targets"])
    masks = decoded[0] if tok.instance_aware else decoded
    assert torch.equal(masks, batch["mask"])
    assert batch["mask"].max() > 0, "synthetic cells must show up in the masks"
    return batch


@pytest.mark.parametrize("scheme", ["lac", "iw"])
def test_in_memory_synthetic_cells(scheme: str) -> None:
    tok = create_tokenizer(scheme, mask_size=16, num_classes=2, max_len=512)
    dm = token_datamodule(
        tok, SyntheticCells("train", num_images=3, size=96), windows=WindowConfig(patch_size=64), batch_size=4
    )
    check_batch(dm, tok, 4)


def test_folder_written_by_data_synth(tmp_path: Path) -> None:
    write_synthetic("cells", tmp_path / "cells", num_samples=2, size=64, progress=False)
    source = open_dataset(tmp_path / "cells", split="train")
    assert list(source.classes) == ["background", "ipsc", "dfc"]
    memory = SyntheticCells("train", num_images=2, size=64)
    assert np.array_equal(source[0].mask, memory[0].mask), "the files hold exactly the in-memory samples"
    tok = create_tokenizer("iw", mask_size=16, num_classes=2, max_len=512)
    dm = token_datamodule(tok, source, windows=WindowConfig(patch_size=64), batch_size=2)
    batch = check_batch(dm, tok, 2)
    assert batch["instances"].max() > 0, "instance PNGs are read"


def test_video_folder_written_by_data_synth(tmp_path: Path) -> None:
    write_synthetic("cells-video", tmp_path / "videos", num_samples=1, size=48, num_frames=4, progress=False)
    source = open_dataset(tmp_path / "videos", split="train")
    assert source[0].image.shape == (4, 48, 48, 3)
    tok = create_tokenizer("tac", mask_size=12, num_classes=2, num_frames=2, max_len=512)
    dm = token_datamodule(tok, source, windows=WindowConfig(patch_size=48, frame_stride=1), batch_size=3)
    check_batch(dm, tok, 3, clip=2)
    in_memory = token_datamodule(tok, SyntheticCellVideos("train", num_videos=1, num_frames=4, size=48), batch_size=3)
    check_batch(in_memory, tok, 3, clip=2)
