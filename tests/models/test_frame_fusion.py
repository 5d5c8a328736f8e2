"""Video models with fine features: a clip's frames share the start grid by concatenation (``frame_fusion``
``concat``, starting as their mean) or by their mean, or keep one grid each (``separate``, for schemes whose
starts name a frame); checkpoints written before the option load as mean."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from tests.models.test_pointer import TINY

from rleseg.config import Config, TokenizerConfig
from rleseg.models.fine_map import FrameMix
from rleseg.models.pix2seq import ModelConfig, Pix2SeqModel
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter, with_model_defaults_of_old_checkpoints
from rleseg.tokenizers import create_tokenizer


def video_model(fusion: str, frames: int = 2) -> Pix2SeqModel:
    """A tiny LTAC model at S = 8, N = ``frames``, with the start pointer on stride-4 features."""
    torch.manual_seed(0)
    tok = create_tokenizer("ltac", mask_size=8, num_classes=2, num_frames=frames, max_len=64)
    return Pix2SeqModel(tok, dataclasses.replace(TINY, dense_loss_weight=0.0, frame_fusion=fusion)).eval()


def test_frame_mix_starts_as_the_mean_and_tells_frames_apart_once_trained() -> None:
    grids = torch.randn(2, 3, 8, 4, 5)  # (B, N, D, S_h, S_w)
    mix = FrameMix(3, 8)
    torch.testing.assert_close(mix(grids), grids.mean(1), rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        mix.proj.weight.add_(0.1 * torch.randn_like(mix.proj.weight))
    swapped = grids.flip(1)
    assert not torch.allclose(mix(grids), mix(swapped)), "a learned mix knows which frame is which"
    torch.testing.assert_close(swapped.mean(1), grids.mean(1))
    with pytest.raises(ValueError, match="clip of 2 frames, but the model mixes 3 frames"):
        mix(grids[:, :2])


def test_concat_fusion_starts_out_as_the_mean_model() -> None:
    concat, mean = video_model("concat"), video_model("mean")
    assert concat.frame_mix is not None and mean.frame_mix is None
    missing, unexpected = concat.load_state_dict(mean.state_dict(), strict=False)
    assert unexpected == [] and all(k.startswith("frame_mix.") for k in missing) and missing
    clips = torch.randn(2, 2, 3, 32, 32)
    inputs = torch.randint(0, concat.vocab_size, (2, 6))
    with torch.no_grad():
        torch.testing.assert_close(concat(clips, inputs), mean(clips, inputs), rtol=1e-4, atol=1e-5)


def test_separate_grids_point_each_start_at_the_frame_it_names() -> None:
    torch.manual_seed(0)
    tok = create_tokenizer("3d-c", mask_size=8, num_classes=2, num_frames=2, classes="lac", max_len=64)
    model = Pix2SeqModel(tok, dataclasses.replace(TINY, dense_loss_weight=0.0, frame_fusion="separate")).eval()
    assert model.fine_cells == 2 * 64 and model.frame_mix is None
    starts = tok.vocab["starts"]
    clips = torch.rand(1, 2, 3, 32, 32)
    changed = clips.clone()
    changed[:, 1] = torch.rand(3, 32, 32)  # only the second frame differs
    _, fine = model.split_memory(model.encode(clips))
    _, fine2 = model.split_memory(model.encode(changed))
    assert fine is not None and fine2 is not None
    assert fine.shape == (1, 128, TINY.dim)
    hidden = torch.randn(1, 1, TINY.dim)
    logits = torch.zeros(1, 1, tok.vocab_size)
    first = model.pointer.add_logits(logits, hidden, fine)[0, 0, starts.start : starts.stop]
    second = model.pointer.add_logits(logits, hidden, fine2)[0, 0, starts.start : starts.stop]
    # the encoder mixes the frames, so frame 1's cells move a little too; frame 2's move far more
    moved = (first - second).abs()
    assert moved[64:].mean() > 3 * moved[:64].mean()
    with pytest.raises(ValueError, match="tokenizer 'ltac' has none"):
        video_model("separate")


def test_images_and_static_input_build_no_frame_mix() -> None:
    tok = create_tokenizer("lac", mask_size=8, num_classes=2)
    assert Pix2SeqModel(tok, TINY).frame_mix is None
    vid = create_tokenizer("ltac", mask_size=8, num_classes=2, num_frames=2)
    assert Pix2SeqModel(vid, dataclasses.replace(TINY, static_input=True)).frame_mix is None
    with pytest.raises(ValueError, match="frame_fusion must be one of"):
        ModelConfig(frame_fusion="sum")


def test_checkpoints_without_the_option_load_with_mean_fusion() -> None:
    tok = create_tokenizer("ltac", mask_size=8, num_classes=2, num_frames=2)
    cfg = Config(tokenizer=TokenizerConfig(name="ltac", mask_size=8, num_frames=2), model=TINY)
    cfg.data.patch_size = 32
    new = Pix2SeqSegmenter.from_tokenizer(cfg, tok, ["background", "a", "b"])
    assert new.model.frame_mix is not None
    hparams = dict(new.hparams)
    assert Pix2SeqSegmenter.from_checkpoint({"hyper_parameters": hparams, "state_dict": new.state_dict()})
    old_config = hparams["config"] | {"model": dict(hparams["config"]["model"])}
    old_config["model"]["pix2seq"] = {k: v for k, v in old_config["model"]["pix2seq"].items() if k != "frame_fusion"}
    old_state = {k: v for k, v in new.state_dict().items() if not k.startswith("model.frame_mix.")}
    old = Pix2SeqSegmenter.from_checkpoint(
        {"hyper_parameters": hparams | {"config": old_config}, "state_dict": old_state}
    )
    assert old.model.frame_mix is None and old.cfg.model.pix2seq.frame_fusion == "mean"
    assert "frames averaged" in dict(old.describe())["model"]
    assert "frames concatenated" in dict(new.describe())["model"]
    assert old.hparams["config"]["model"]["pix2seq"]["frame_fusion"] == "mean", "saved again as it was built"
    assert "frame_fusion" not in old_config["model"]["pix2seq"], "the caller's dict is left as it was"
    legacy = with_model_defaults_of_old_checkpoints({"model": {"backbone": "resnet10t"}})
    assert legacy["model"] == {"backbone": "resnet10t", "frame_fusion": "mean"}
