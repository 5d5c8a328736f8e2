"""Batched torch helpers agree with the per-sample numpy tokenizer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rleseg.tokenizers import EOS, PAD, PROMPT, create_tokenizer
from rleseg.tokenizers.batch import decode_batch, decoder_inputs, encode_batch, pad_sequences

FLAT = [
    ("binary", {}),
    ("multiclass", {"num_classes": 3}),
    ("lac", {"num_classes": 3, "starts": "2d"}),
    ("lac", {"num_classes": 2, "order": "col"}),
    ("3d-c", {"num_classes": 2, "num_frames": 3}),
    ("3d-f", {"num_classes": 2, "num_frames": 2, "classes": "lac"}),
    ("tac", {"num_classes": 2, "num_frames": 2}),
    ("ltac", {"num_classes": 1, "num_frames": 3, "order": "col"}),
]


def random_masks(tok, batch: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (batch, *tok.mask_shape)
    masks = rng.integers(1, tok.num_classes + 1, size=shape) * (rng.random(shape) < 0.35)
    masks[0] = 0  # one empty mask in every batch
    return masks


@pytest.mark.parametrize(("name", "kw"), FLAT)
@pytest.mark.parametrize("max_len", [None, 7])
def test_torch_encode_equals_numpy_encode(name: str, kw: dict, max_len: int | None) -> None:
    tok = create_tokenizer(name, mask_size=(6, 5), **kw)
    masks = random_masks(tok, 5, seed=3)
    tokens, lengths = encode_batch(tok, torch.from_numpy(masks), max_len=max_len)
    tok.max_len = max_len
    for i, m in enumerate(masks):
        expected = tok.encode(m)
        assert lengths[i] == expected.size
        assert tokens[i, : expected.size].tolist() == expected.tolist()
        assert (tokens[i, expected.size :] == PAD).all()


@pytest.mark.parametrize(("name", "kw"), [*FLAT, ("cw", {"num_classes": 3}), ("diff", {"num_classes": 2})])
def test_decode_batch_inverts_encode_batch(name: str, kw: dict) -> None:
    tok = create_tokenizer(name, mask_size=(6, 5), **kw)
    masks = torch.from_numpy(random_masks(tok, 4, seed=5))
    tokens, _ = encode_batch(tok, masks)
    decoded, infos = decode_batch(tok, tokens, return_info=True)
    assert torch.equal(decoded, masks.long())
    assert all(info.num_dropped == 0 for info in infos)


def test_iw_batches_take_and_return_pairs() -> None:
    tok = create_tokenizer("iw", mask_size=5, num_classes=2)
    cls = torch.zeros(2, 5, 5, dtype=torch.long)
    inst = torch.zeros_like(cls)
    cls[0, :2, :2], inst[0, :2, :2] = 1, 7
    cls[1, 3:, :], inst[1, 3:, :] = 2, 3
    tokens, _ = encode_batch(tok, (cls, inst))
    out_cls, out_inst = decode_batch(tok, tokens)
    assert torch.equal(out_cls, cls)
    assert torch.equal(out_inst > 0, inst > 0)


def test_torch_encode_checks_its_input() -> None:
    tok = create_tokenizer("lac", mask_size=4, num_classes=2)
    with pytest.raises(ValueError, match=r"expected \(B, 4, 4\)"):
        encode_batch(tok, torch.zeros(2, 5, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"value 3, expected values in \[0, 2\]"):
        encode_batch(tok, torch.full((1, 4, 4), 3))
    with pytest.raises(ValueError, match="integer or bool"):
        encode_batch(tok, torch.zeros(1, 4, 4))


def test_padding_and_teacher_forcing_inputs() -> None:
    tokens, lengths = pad_sequences([np.array([5, 6, EOS]), np.array([EOS])], length=4)
    assert tokens.tolist() == [[5, 6, EOS, PAD], [EOS, PAD, PAD, PAD]]
    assert lengths.tolist() == [3, 1]
    assert decoder_inputs(tokens).tolist() == [[PROMPT, 5, 6, EOS], [PROMPT, EOS, PAD, PAD]]
    with pytest.raises(ValueError, match="does not fit"):
        pad_sequences([np.arange(5)], length=4)
