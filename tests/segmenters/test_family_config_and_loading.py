"""Config sections per family, configs and checkpoints written before families existed, and load errors."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
import yaml

from rleseg.config import Config, ModelConfig, TokenizerConfig, load_config
from rleseg.segmenters.loading import load_segmenter
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.tokenizers import create_tokenizer

TINY = ModelConfig(backbone="resnet10t", feature_level=-2, dim=32, heads=2, encoder_layers=1, decoder_layers=1)


def test_legacy_model_keys_go_to_the_pix2seq_section(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump({"model": {"backbone": "resnet10t", "dim": 48}}))
    cfg = load_config(path, ["model.heads=2"])
    assert cfg.model.family == "pix2seq" and cfg.model.pix2seq.dim == 48 and cfg.model.pix2seq.heads == 2
    assert cfg.to_dict()["model"]["pix2seq"]["backbone"] == "resnet10t"
    smp = load_config(None, ["model.family=smp", "model.smp.encoder=tu-resnet10t"])
    assert smp.model.section().encoder == "tu-resnet10t" and smp.model.section("pix2seq") == ModelConfig()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.family=nope", "unknown model family 'nope'"),
        ("model.nope.x=1", "unknown key 'nope'"),
        ("model.smp.arch_typo=unet", "unknown key"),
    ],
)
def test_bad_model_sections_are_named(override: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_config(None, [override])


def test_a_checkpoint_from_before_model_families_loads_and_predicts_the_same(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tok = create_tokenizer("lac", mask_size=8, num_classes=2, max_len=16)
    cfg = Config(tokenizer=TokenizerConfig(name="lac", mask_size=8, max_len=16), model=TINY)
    model = Pix2SeqSegmenter.from_tokenizer(cfg, tok, ["background", "a", "b"]).eval()
    hparams = dict(model.hparams)
    old_config = dict(hparams["config"])
    old_config["model"] = dict(old_config["model"]["pix2seq"])  # the layout Config.to_dict wrote before
    hparams["config"] = old_config
    path = tmp_path / "old.ckpt"
    torch.save(
        {"state_dict": model.state_dict(), "hyper_parameters": hparams, "pytorch-lightning_version": L.__version__},
        path,
    )
    loaded = load_segmenter(path)
    assert isinstance(loaded, Pix2SeqSegmenter) and loaded.tok == tok and loaded.cfg.model.pix2seq.dim == 32
    images = torch.randint(0, 255, (2, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(loaded.eval().predict_windows(images).masks, model.predict_windows(images).masks)


def test_files_that_are_not_checkpoints_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_segmenter(tmp_path / "missing.ckpt")
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=f"{junk} is not an rleseg checkpoint"):
        load_segmenter(junk)
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"config": {}}, "rleseg_family": "gone"}, other)
    with pytest.raises(ValueError, match="unknown model family 'gone'"):
        load_segmenter(other)
