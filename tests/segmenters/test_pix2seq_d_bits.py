"""Pix2Seq-D encoding: ids <-> analog bits round trip, the output head, training targets and post-processing."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rleseg.models.bitdiffusion.bits import BitLayout, bits_to_int, decode_panoptic, encode_panoptic, int_to_bits
from rleseg.models.bitdiffusion.head import analog_from_logits, bit_loss, check_loss, logit_channels
from rleseg.models.bitdiffusion.postprocess import majority_vote
from rleseg.models.bitdiffusion.targets import drop_previous, instance_weights, permute_instances


def test_bits_are_least_significant_first() -> None:
    assert int_to_bits(torch.tensor([6]), 4).tolist() == [[0.0, 1.0, 1.0, 0.0]]
    assert bits_to_int(torch.tensor([[1, 0, 0, 1]])).tolist() == [9]


@pytest.mark.parametrize("layout", [BitLayout(8, 8), BitLayout(2, 8), BitLayout(3, 5)])
def test_every_class_and_instance_id_round_trips(layout: BitLayout) -> None:
    classes, instances = torch.meshgrid(
        torch.arange(layout.max_class + 1), torch.arange(layout.max_instance + 1), indexing="ij"
    )  # every (class, instance) pair once
    analog = encode_panoptic(classes[None], instances[None], layout, 0.1)
    assert analog.shape == (1, layout.channels, *classes.shape)
    assert analog.abs().allclose(torch.tensor(0.1)) and bool((analog > 0).any() and (analog < 0).any())
    c, i = decode_panoptic(analog, layout)
    assert torch.equal(c[0], classes) and torch.equal(i[0], instances)
    c, i = decode_panoptic(analog + 0.09 * torch.randn_like(analog).clamp(-1, 1), layout)  # noise under b
    assert torch.equal(c[0], classes) and torch.equal(i[0], instances)


def test_ids_that_do_not_fit_their_bits_are_refused() -> None:
    with pytest.raises(ValueError, match=r"class ids must lie in 0..3 for class_bits=2, got 4..4"):
        encode_panoptic(torch.tensor([[[4]]]), torch.tensor([[[0]]]), BitLayout(2, 8), 0.1)
    with pytest.raises(ValueError, match=r"instance ids must lie in 0..255"):
        encode_panoptic(torch.tensor([[[0]]]), torch.tensor([[[256]]]), BitLayout(2, 8), 0.1)
    with pytest.raises(ValueError, match="instance_bits: expected 1..16 bits, got 0"):
        BitLayout(8, 0)


def test_softmax_head_averages_the_codes_of_the_values() -> None:
    layout = BitLayout(2, 1)
    assert logit_channels(layout, "softmax") == 4 + 2 and logit_channels(layout, "sigmoid") == 3
    logits = torch.full((1, 6, 1, 1), -1e4)
    logits[0, 2, 0, 0] = logits[0, 4, 0, 0] = 0.0  # class value 2 (bits 0, 1), instance value 0 (bit 0)
    assert analog_from_logits(logits, layout, "softmax", 0.1).flatten().tolist() == pytest.approx([-0.1, 0.1, -0.1])
    logits[0, 1, 0, 0] = 0.0  # class values 1 and 2 equally likely: both bits 50/50 -> 0
    assert analog_from_logits(logits, layout, "softmax", 0.1).flatten().tolist() == pytest.approx([0.0, 0.0, -0.1])


def test_sigmoid_loss_is_the_softmax_loss_of_one_bit_groups() -> None:
    layout = BitLayout(1, 1)
    z = torch.randn(2, 2, 3, 3)  # one logit per bit
    two_way = torch.stack([torch.zeros_like(z[:, 0]), z[:, 0], torch.zeros_like(z[:, 1]), z[:, 1]], 1)
    classes, instances = torch.randint(0, 2, (2, 3, 3)), torch.randint(0, 2, (2, 3, 3))
    w = torch.rand(2, 3, 3)
    sig = bit_loss(z, classes, instances, w, layout, "sigmoid")
    soft = bit_loss(two_way, classes, instances, w, layout, "softmax")
    assert sig.item() == pytest.approx(soft.item(), rel=1e-5)
    expected = (
        w
        * (
            F.cross_entropy(two_way[:, :2], classes, reduction="none")
            + F.cross_entropy(two_way[:, 2:], instances, reduction="none")
        )
    ).mean()
    assert soft.item() == pytest.approx(expected.item(), rel=1e-5)
    assert torch.allclose(
        analog_from_logits(z, layout, "sigmoid", 0.1), analog_from_logits(two_way, layout, "softmax", 0.1)
    )
    with pytest.raises(ValueError, match="use at most 10 bits per id or loss=sigmoid"):
        check_loss("softmax", BitLayout(8, 12))
    with pytest.raises(ValueError, match="expected one of softmax, sigmoid, got 'l2'"):
        check_loss("l2", BitLayout(8, 8))


def test_instance_permutation_keeps_the_partition_and_one_draw_per_clip() -> None:
    clip = torch.tensor([[[0, 1, 1], [2, 2, 7]], [[0, 7, 1], [2, 0, 0]]])[None]  # (1, N=2, 2, 3)
    gen = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(20):
        out = permute_instances(clip, 255, gen)
        assert out.shape == clip.shape and ((out == 0) == (clip == 0)).all()
        for old in (1, 2, 7):  # the same new id wherever (and whenever) the old one was
            new = out[clip == old].unique()
            assert new.numel() == 1 and 1 <= int(new) <= 255
            seen.add(int(new))
        assert out[clip > 0].unique().numel() == 3
    assert len(seen) > 10, "ids are drawn at random"
    many = torch.arange(6).repeat_interleave(torch.tensor([5, 1, 2, 3, 4, 9]))[None]  # ids 1..5 of sizes 1..4, 9
    kept = permute_instances(many, 3, gen)
    assert (kept[many == 1] == 0).all() and (kept[many == 2] == 0).all(), "the smallest instances are dropped"
    assert kept[many >= 3].unique().numel() == 3 and int(kept.max()) <= 3


def test_instance_weights_follow_the_size_power_law() -> None:
    inst = torch.tensor([[[0, 0, 0, 1]]])  # background segment of 3 pixels, instance of 1
    w = instance_weights(inst, 0.5)
    raw = torch.tensor([3**-0.5] * 3 + [1.0])
    assert torch.allclose(w.flatten(), raw * 4 / raw.sum()) and w.sum().item() == pytest.approx(4.0)
    assert torch.equal(instance_weights(inst, 0.0), torch.ones(1, 1, 4))


def test_previous_frames_are_dropped_whole() -> None:
    prev = torch.ones(200, 2, 3, 2, 2)
    out = drop_previous(prev, 0.5, torch.Generator().manual_seed(0))
    per_frame = out.flatten(2).sum(-1)
    assert set(per_frame.unique().tolist()) == {0.0, 12.0} and 0.3 < (per_frame == 0).float().mean() < 0.7


def test_majority_vote_and_minimum_area() -> None:
    classes = torch.tensor([[[1, 1, 2, 0], [1, 2, 2, 2], [0, 3, 1, 5]]])
    instances = torch.tensor([[[4, 4, 4, 0], [4, 9, 9, 9], [0, 6, 0, 0]]])
    c, i = majority_vote(classes, instances, num_classes=3, min_area=2)
    assert c.tolist() == [[[1, 1, 1, 0], [1, 2, 2, 2], [0, 3, 1, 0]]]  # 4 -> class 1, 9 -> 2, 6 keeps 3, 5 > C
    assert i.tolist() == [[[4, 4, 4, 0], [4, 9, 9, 9], [0, 0, 0, 0]]], "instance 6 is under 2 pixels: no id"
    c, i = majority_vote(torch.tensor([[[0, 0, 1]]]), torch.tensor([[[3, 3, 3]]]), 1, 0)
    assert c.tolist() == [[[0, 0, 0]]] and i.tolist() == [[[0, 0, 0]]], "a background-majority instance goes"
