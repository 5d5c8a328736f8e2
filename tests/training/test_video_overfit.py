"""One clip memorised exactly, for every video scheme: a fixed synthetic clip of N = 2 frames (both classes,
cells that move between the frames) -> tokens -> model -> greedy generated tokens -> the clip's mask at S.

Setting found to get there reliably (like the image overfit test): seeds 0-3 reach token accuracy 1 and
loss < 0.05 in 58-83 steps for every scheme, about 2 s each on one CPU thread; the cap is 300 steps.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.training.training_helpers import no_augment, overfit, overfit_model

from rleseg.config import Config, TokenizerConfig
from rleseg.data.sample import ListSource
from rleseg.data.synthetic import SyntheticCellVideos
from rleseg.inference.generate import sequence_lengths
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.segmenters.token_batch import token_datamodule
from rleseg.tokenizers import create_tokenizer
from rleseg.tokenizers.batch import decode_batch

VIDEO_SCHEMES = ("3d-c", "3d-f", "tac", "ltac")


def one_clip() -> ListSource:
    """Synthetic video 0 (train split, seed 0): 2 frames at 64 x 64, resized to 32 by the windows below."""
    source = SyntheticCellVideos("train", num_videos=1, num_frames=2, size=64, seed=0)
    return ListSource([source[0]], source.classes)


@pytest.mark.parametrize("scheme", VIDEO_SCHEMES)
def test_overfitting_one_clip_generates_its_exact_mask(scheme: str) -> None:
    torch.manual_seed(0)
    tok = create_tokenizer(scheme, mask_size=8, num_classes=2, num_frames=2, max_len=64)
    cfg = Config(
        tokenizer=TokenizerConfig(name=scheme, mask_size=8, num_frames=2, max_len=64),
        model=overfit_model(),
    )
    dm = token_datamodule(tok, one_clip(), windows=no_augment(image_size=32), batch_size=1)
    batch = next(iter(dm.train_dataloader()))
    mask = batch["mask"]  # (1, 2, 8, 8)
    assert mask.shape == (1, 2, 8, 8) and batch["image"].shape == (1, 2, 3, 32, 32)
    assert set(mask.unique().tolist()) == {0, 1, 2}, "both classes are in the clip"
    assert (mask[0, 0] != mask[0, 1]).any(), "the frames differ, so the tokens must carry time"

    task = Pix2SeqSegmenter.from_tokenizer(cfg, tok, ["background", "ipsc", "dfc"])
    _, acc = overfit(task, batch)
    assert acc == 1.0, f"token accuracy {acc:.3f} after training"

    task.eval()
    generated = task.generate_tokens(batch["image"])
    n = int(batch["lengths"][0])
    assert int(sequence_lengths(generated)[0]) == n
    assert torch.equal(generated[0, :n], batch["targets"][0, :n]), "the clip's exact tokens, EOS included"
    assert np.array_equal(decode_batch(tok, generated).numpy(), mask.numpy())
