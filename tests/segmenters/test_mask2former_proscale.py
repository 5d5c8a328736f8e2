"""The PRO-SCALE encoder: TRC gates land on the right pixels, each stage's layers see the right scales (a prefix of
the tokens), LPE replaces the 1/4 level's convolution, and a Mask2Former with it trains, predicts and costs
fewer pixel-decoder FLOPs than with the deformable encoder."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rleseg.commands.flops import count_flops
from rleseg.config import Config
from rleseg.models.mask2former.build import hf_config
from rleseg.models.mask2former.proscale import ProScaleEncoder, TokenRecalibration, stage_levels
from rleseg.segmenters.mask2former import Mask2FormerSegmenter

SHAPES = [(2, 3), (4, 6), (8, 12)]  # 1/32, 1/16, 1/8 of a 64 x 96 input: non-square, so a transposition shows


def tiny(**options: Any) -> Config:
    cfg = Config()
    cfg.model.family = "mask2former"
    m = cfg.model.mask2former
    m.backbone, m.dim, m.heads, m.encoder_ffn, m.decoder_ffn = "resnet10t", 32, 2, 64, 64
    m.decoder_layers, m.queries = 1, 4
    for key, value in options.items():
        setattr(m, key, value)
    return cfg


def test_trc_gate_lands_on_the_pattern_pixels() -> None:
    trc = TokenRecalibration(dim=4, temperature=0.1)
    with torch.no_grad():
        trc.phi.weight.zero_()
        trc.phi.weight[0, 0] = 100.0
        trc.phi.bias.fill_(-50.0)  # gate = sigmoid(10 x - 5) for x the resized channel 0
    h, w = 8, 12
    fine = torch.zeros(1, h * w, 4)
    pattern = torch.zeros(h, w)
    pattern[0:4, 8:12] = 1.0  # the top-right block
    fine[0, :, 0] = pattern.flatten()  # token y * W + x holds pixel (y, x)
    gate = trc.gate(fine, (h, w), (4, 6)).view(4, 6)
    expected = torch.zeros(4, 6, dtype=torch.bool)
    expected[0:2, 4:6] = True
    assert (gate[expected] > 0.99).all() and (gate[~expected] < 0.01).all(), gate
    tokens = torch.ones(1, 24, 4)
    assert torch.equal(trc(tokens, (4, 6), fine, (h, w)), tokens * gate.reshape(1, 24, 1))


def test_stages_give_each_layer_its_scales() -> None:
    assert stage_levels((1, 2, 1)) == [1, 2, 2, 3] and stage_levels((3, 3, 3)) == [1] * 3 + [2] * 3 + [3] * 3
    cfg = tiny().model.mask2former
    encoder = ProScaleEncoder(hf_config(cfg, 3), (1, 2, 1), trc=False).eval()
    sizes = [h * w for h, w in SHAPES]
    seen: list[tuple[int, list[tuple[int, int]], int, int]] = []

    def record(layer: nn.Module, args: Any, kwargs: Any) -> None:
        seen.append(
            (
                args[0].shape[1],
                list(kwargs["spatial_shapes_list"]),
                kwargs["reference_points"].shape[1],
                kwargs["position_embeddings"].shape[1],
            )
        )

    for layer in encoder.layers:
        layer.register_forward_pre_hook(record, with_kwargs=True)
    tokens = torch.randn(2, sum(sizes), 32)
    starts = torch.tensor([0, sizes[0], sizes[0] + sizes[1]])
    kwargs = {"spatial_shapes_list": SHAPES, "level_start_index": starts, "valid_ratios": torch.ones(2, 3, 2)}
    out = encoder(tokens, torch.zeros(2, sum(sizes), dtype=torch.bool), torch.randn_like(tokens), **kwargs)
    n1, n2, n3 = sizes[0], sizes[0] + sizes[1], sum(sizes)
    assert seen == [(n1, SHAPES[:1], n1, n1), (n2, SHAPES[:2], n2, n2), (n2, SHAPES[:2], n2, n2), (n3, SHAPES, n3, n3)]
    assert [layer.self_attn.n_levels for layer in encoder.layers] == [1, 2, 2, 3]
    assert out.last_hidden_state.shape == tokens.shape

    two = ProScaleEncoder(hf_config(cfg, 3), (1, 1, 0), trc=False).eval()
    kept = two(tokens, None, torch.randn_like(tokens), **kwargs).last_hidden_state
    assert torch.equal(kept[:, n2:], tokens[:, n2:]), "the 1/8 tokens never entered a layer"
    assert not torch.allclose(kept[:, :n1], tokens[:, :n1])


def test_mask2former_with_proscale_trains_predicts_and_costs_less() -> None:
    torch.manual_seed(0)
    model = Mask2FormerSegmenter.create(tiny(encoder="proscale", stages=[1, 1, 1]), ["background", "cell"])
    decoder = model.model.model.pixel_level_module.decoder
    assert isinstance(decoder.encoder, ProScaleEncoder) and isinstance(decoder.layer_1[0], nn.MaxPool2d)
    assert decoder.output_convolutions == [decoder.layer_1]
    assert "PRO-SCALE (1, 1, 1) + TRC + LPE" in model.describe()[0][1]
    batch = {
        "image": torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8),
        "mask": torch.randint(0, 2, (2, 64, 64)),
        "instances": torch.randint(0, 4, (2, 64, 64)),
        "names": ["a", "b"],
    }
    loss, logs = model.loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and set(logs) == {"ce", "mask_bce", "dice_loss"}
    assert all(p.grad is not None for p in decoder.encoder.parameters()), "every encoder parameter learns"
    out = model.eval().predict_windows(batch["image"])
    assert out.masks.shape == (2, 64, 64) and out.instances is not None

    images = torch.zeros(1, 3, 128, 128, dtype=torch.uint8)
    costs = {}
    for name, options in [("m2f", {"encoder_layers": 6}), ("pro", {"encoder": "proscale", "stages": [3, 3, 3]})]:
        seg = Mask2FormerSegmenter.create(tiny(**options), ["background", "cell"]).eval()
        costs[name] = count_flops(seg, images, seg.flop_components())
    assert costs["pro"]["backbone"] == costs["m2f"]["backbone"]
    assert costs["pro"]["pixel decoder"] < 0.6 * costs["m2f"]["pixel decoder"]


def test_proscale_layers_start_as_transformers_initialises_its_encoder() -> None:
    """The PRO-SCALE layers' deformable attention starts as transformers' own encoder's: zero offset and attention
    weights, the offset grid (points 1..4 cells out along each head's direction) as bias, Xavier projections,
    not the generic N(0, 0.02) of a Linear (which left every sampling point on its reference point)."""
    torch.manual_seed(0)
    base = Mask2FormerSegmenter.create(tiny(encoder_layers=1), ["background", "cell"])
    pro = Mask2FormerSegmenter.create(tiny(encoder="proscale", stages=[1, 1, 1]), ["background", "cell"])
    reference = base.model.model.pixel_level_module.decoder.encoder.layers[0].self_attn  # 3 levels
    layers = pro.model.model.pixel_level_module.decoder.encoder.layers
    for layer in layers:
        attn = layer.self_attn
        k = attn.n_levels
        grid = reference.sampling_offsets.bias.view(attn.n_heads, 3, attn.n_points, 2)[:, :k]
        assert torch.equal(attn.sampling_offsets.bias, grid.reshape(-1)), f"offset grid of the {k}-level layer"
        assert not attn.sampling_offsets.weight.any() and not attn.attention_weights.weight.any()
        assert not attn.attention_weights.bias.any() and not attn.value_proj.bias.any()
        bound = (6 / (2 * attn.d_model)) ** 0.5  # Xavier uniform of a square d_model map
        for proj in (attn.value_proj, attn.output_proj):
            std, ref = proj.weight.std().item(), reference.value_proj.weight.std().item()
            assert proj.weight.abs().max() <= bound and abs(std - ref) < 0.25 * ref, (std, ref)
