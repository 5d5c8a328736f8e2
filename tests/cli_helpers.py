"""Config overrides shared by the CLI tests that train: a model and data small enough for seconds on a CPU."""

from __future__ import annotations

# 64-pixel synthetic images in one 64-pixel window, S = 8, a one-layer dim-32 model, one epoch, no progress bar
TINY_RUN = [
    "data.synthetic_size=64",
    "data.patch_size=64",
    "tokenizer.mask_size=8",
    "model.pix2seq.dim=32",
    "model.pix2seq.heads=2",
    "model.pix2seq.encoder_layers=1",
    "model.pix2seq.decoder_layers=1",
    "train.max_epochs=1",
    "train.progress=false",
]
