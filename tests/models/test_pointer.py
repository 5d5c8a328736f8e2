"""Fine features and the start pointer: cells of start tokens, feature-aware inputs, cached decoding, options."""

from __future__ import annotations

import pytest
import torch

from rleseg.models.pix2seq import ModelConfig, Pix2SeqModel
from rleseg.models.pointer import StartPointer, start_cells
from rleseg.tokenizers import create_tokenizer

TINY = ModelConfig(
    backbone="resnet10t",
    feature_level=-2,
    dim=32,
    heads=2,
    encoder_layers=1,
    decoder_layers=2,
    dropout=0.0,
    fine_level=1,
    pointer_starts=True,
    dense_loss_weight=1.0,
)


@pytest.mark.parametrize("order", ["row", "col"])
def test_start_cells_name_the_pixel_of_each_start(order: str) -> None:
    tok = create_tokenizer("lac", mask_size=4, num_classes=2, order=order)
    cells = start_cells(tok, (4, 4))
    for i in range(16):
        mask = torch.zeros(4, 4, dtype=torch.int64).numpy()
        mask.reshape(-1)[i] = 1  # one foreground pixel at row-major cell i
        tokens = tok.encode(mask)
        start = int(tokens[0]) - tok.vocab["starts"].start
        assert int(cells[start]) == i, f"{order}: start token {start} names cell {int(cells[start])}, not {i}"
    # a 2 x 2 grid of fine features: each start falls in the quarter of its pixel
    coarse = start_cells(tok, (2, 2)).view(4, 4) if order == "row" else start_cells(tok, (2, 2)).view(4, 4).T
    assert coarse.tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]


def test_schemes_without_1d_starts_are_refused() -> None:
    tok = create_tokenizer("lac", mask_size=4, num_classes=2, starts="2d")
    with pytest.raises(ValueError, match="1-D start tokens"):
        start_cells(tok, (4, 4))


def test_start_inputs_carry_the_feature_of_their_cell_and_nothing_else_does() -> None:
    tok = create_tokenizer("lac", mask_size=4, num_classes=2)
    ptr = StartPointer(tok, 8, (4, 4))
    torch.nn.init.eye_(ptr.inject.weight)
    fine = torch.randn(1, 16, 8)
    first = tok.vocab["starts"].start
    tokens = torch.tensor([[first + 5, 1, first + 15, tok.vocab["starts"].stop]])
    out = ptr.input_features(tokens, fine)
    assert torch.allclose(out[0, 0], fine[0, 5]) and torch.allclose(out[0, 2], fine[0, 15])
    assert (out[0, 1] == 0).all() and (out[0, 3] == 0).all()


@pytest.mark.parametrize("order", ["row", "col"])
def test_pointer_logits_rank_starts_by_their_feature(order: str) -> None:
    tok = create_tokenizer("lac", mask_size=4, num_classes=2, order=order)
    ptr = StartPointer(tok, 16, (4, 4))
    torch.nn.init.eye_(ptr.query.weight), torch.nn.init.zeros_(ptr.query.bias)
    torch.nn.init.eye_(ptr.key.weight), torch.nn.init.zeros_(ptr.key.bias)
    fine = torch.zeros(1, 16, 16)
    fine[0, 9] = torch.ones(16)  # the feature at cell 9 matches the query below
    logits = torch.zeros(1, 1, tok.vocab_size)
    out = ptr.add_logits(logits, torch.ones(1, 1, 16), fine)
    r = tok.vocab["starts"]
    assert int(out[0, 0, r.start : r.stop].argmax()) == start_cells(tok, (4, 4)).tolist().index(9)
    assert (out[0, 0, : r.start] == 0).all() and (out[0, 0, r.stop :] == 0).all(), "only start logits change"


@pytest.mark.parametrize("order", ["row", "col"])
def test_pointer_logits_are_the_query_dot_the_projected_key_of_each_cell(order: str) -> None:
    torch.manual_seed(0)
    tok = create_tokenizer("lac", mask_size=4, num_classes=2, order=order)
    ptr = StartPointer(tok, 8, (4, 4))
    torch.nn.init.normal_(ptr.key.bias)
    fine, hidden = torch.randn(2, 16, 8), torch.randn(2, 3, 8)
    logits = torch.randn(2, 3, tok.vocab_size)
    # the pointer as first written: keys projected per cell, q . k / sqrt(D), looked up per start token
    keys = ptr.key(fine)  # (B, G, D)
    plain = ptr.query(hidden) @ keys.transpose(1, 2) / 8**0.5  # (B, T, G)
    r = tok.vocab["starts"]
    want = logits.clone()
    want[..., r.start : r.stop] += plain[..., start_cells(tok, (4, 4))]
    torch.testing.assert_close(ptr.add_logits(logits, hidden, fine), want)


@pytest.mark.parametrize("fine_memory", [False, True])
def test_cached_steps_equal_full_decoding_with_the_pointer(fine_memory: bool) -> None:
    tok = create_tokenizer("lac", mask_size=8, num_classes=2)
    model = Pix2SeqModel(tok, ModelConfig(**{**TINY.to_dict(), "fine_memory": fine_memory})).eval()
    images = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)
    tokens = torch.randint(0, tok.vocab_size, (2, 9))
    with torch.no_grad():
        memory, dense = model.encode_dense(images)
        assert memory.shape[1] == 4 * 4 + 8 * 8, "coarse 4 x 4 memory, then the 8 x 8 fine grid"
        assert dense is not None and dense.shape == (2, 3, 8, 8)
        full = model.decode(tokens, memory)
        cache = model.new_cache()
        steps = [model.decode_step(tokens[:, i : i + 1], memory, cache, offset=i) for i in range(9)]
    assert torch.allclose(torch.stack(steps, 1), full, atol=1e-4)


def test_video_clips_get_per_frame_dense_logits() -> None:
    tok = create_tokenizer("tac", mask_size=8, num_classes=2, num_frames=2)
    model = Pix2SeqModel(tok, TINY).eval()
    with torch.no_grad():
        memory, dense = model.encode_dense(torch.randint(0, 255, (1, 2, 3, 64, 64), dtype=torch.uint8))
    assert dense is not None and dense.shape == (1, 2, 3, 8, 8) and memory.shape[1] == 2 * 16 + 64


def test_fine_options_need_a_fine_level() -> None:
    with pytest.raises(ValueError, match="need fine features"):
        ModelConfig(pointer_starts=True)
    with pytest.raises(ValueError, match="dense_loss_weight must be >= 0"):
        ModelConfig(fine_level=1, dense_loss_weight=-1.0)


def test_fine_features_nothing_uses_are_refused() -> None:
    with pytest.raises(ValueError, match="nothing uses"):
        ModelConfig(fine_level=1)


def test_dense_logits_only_with_the_dense_loss() -> None:
    tok = create_tokenizer("lac", mask_size=8, num_classes=2)
    model = Pix2SeqModel(tok, ModelConfig(**{**TINY.to_dict(), "dense_loss_weight": 0.0})).eval()
    assert model.dense_head is None
    with torch.no_grad():
        assert model.encode_dense(torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8))[1] is None


@pytest.mark.parametrize("fine_memory", [False, True])
def test_training_from_memory_parts_equals_decoding_the_concatenated_memory(fine_memory: bool) -> None:
    torch.manual_seed(0)
    tok = create_tokenizer("lac", mask_size=8, num_classes=2)
    cfg = ModelConfig(**{**TINY.to_dict(), "fine_memory": fine_memory})
    model = Pix2SeqModel(tok, cfg).eval()
    torch.nn.init.normal_(model.pointer.inject.weight)  # type: ignore[union-attr]  # zero at init: make it count
    images = torch.rand(2, 3, 32, 32) * 255
    inputs = torch.randint(0, tok.vocab_size, (2, 7))
    parts, _ = model.encode_parts(images)
    memory = model.encode(images)
    assert memory.shape[1] == sum(t.shape[1] for t in parts if t is not None)
    split = model.split_memory(memory)
    for a, b in zip(parts, split, strict=True):
        assert a is not None and b is not None and torch.equal(a, b)
    fast = model(images, inputs)
    assert torch.allclose(fast, model.decode(inputs, memory), atol=1e-5)
    # the same gradients reach the weights either way
    fast.square().mean().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    model.decode(inputs, model.encode(images)).square().mean().backward()
    for n, p in model.named_parameters():
        if n in grads:
            assert p.grad is not None and torch.allclose(grads[n], p.grad, atol=1e-6), n
