"""Batched prediction changes nothing: windows of a whole image, of a video's frames and of several images
share generation batches (finished sequences leave the batch), and every output equals the one of the
window-by-window path (batch size 1)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from rleseg.config import Config, ModelConfig, TokenizerConfig
from rleseg.inference.generate import encode_in_chunks, generate, sequence_lengths
from rleseg.inference.predictor import PIXEL_BATCH, Predictor, default_batch_size
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.tokenizers import EOS, create_tokenizer
from rleseg.tokenizers.grammar import make_grammar

TINY = ModelConfig(
    backbone="resnet10t", dim=32, heads=2, encoder_layers=1, decoder_layers=2, dropout=0.0, token_init="random"
)


@pytest.fixture(scope="module", params=["plain", "pointer"])
def segmenter(request: pytest.FixtureRequest) -> Pix2SeqSegmenter:
    """A random token model whose sequences depend on the image and end at different lengths (transformer
    weights scaled up so the image matters, EOS made a little less likely); plain, or with the start pointer
    (whose fine features and keys travel in the memory rows that generation drops and keeps)."""
    torch.manual_seed(0)
    tok = create_tokenizer("lac", mask_size=8, num_classes=2, max_len=40)
    model = (
        TINY if request.param == "plain" else ModelConfig(**{**TINY.to_dict(), "fine_level": 1, "pointer_starts": True})
    )
    cfg = Config(tokenizer=TokenizerConfig(name="lac", mask_size=8, max_len=40), model=model)
    cfg.data.patch_size = 16
    seg = Pix2SeqSegmenter.from_tokenizer(cfg, tok, ["background", "a", "b"]).eval()
    with torch.no_grad():
        for param in [*seg.model.encoder.parameters(), *seg.model.decoder.parameters()]:
            param.mul_(4)
        seg.model.head.bias[EOS] = -1.0
    return seg


def images(n: int, seed: int, shape: tuple[int, int] = (40, 56)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*shape, 3)).astype(np.uint8) for _ in range(n)]


def test_generation_with_finished_rows_leaving_the_batch_equals_one_row_at_a_time(segmenter: Pix2SeqSegmenter) -> None:
    model, tok = segmenter.model, segmenter.tok
    batch = torch.from_numpy(np.stack(images(12, seed=1, shape=(16, 16)))).movedim(-1, 1).contiguous()
    grammar = make_grammar(tok, max_len=40)
    together = generate(model, batch, 40, grammar=grammar)
    lengths = sequence_lengths(together)
    assert len(set(lengths.tolist())) >= 3, "the test needs sequences that end at different steps"
    for i in range(len(batch)):
        alone = generate(model, batch[i : i + 1], 40, grammar=grammar)
        n = alone.shape[1]
        assert torch.equal(together[i, :n], alone[0]) and (together[i, n:] == 0).all()


@pytest.mark.parametrize("stride", [8, 16])
def test_whole_image_batches_equal_window_by_window(segmenter: Pix2SeqSegmenter, stride: int) -> None:
    image = images(1, seed=2, shape=(45, 61))[0]
    one = Predictor(segmenter, batch_size=1, stride=stride).predict_image(image)
    many = Predictor(segmenter, batch_size=64, stride=stride).predict_image(image)
    assert np.array_equal(one.mask, many.mask) and np.array_equal(one.token_lengths, many.token_lengths)
    assert len(np.unique(one.token_lengths)) > 1 and one.mask.max() > 0


def test_several_images_share_batches_and_each_equals_its_own_prediction(segmenter: Pix2SeqSegmenter) -> None:
    sizes = [(40, 56), (16, 16), (33, 20), (64, 48)]
    pics = [images(1, seed=10 + i, shape=s)[0] for i, s in enumerate(sizes)]
    alone = [Predictor(segmenter, batch_size=1).predict_image(p) for p in pics]
    together = list(Predictor(segmenter, batch_size=5).predict_images(pics))  # batches cross image boundaries
    assert len(together) == len(pics)
    for a, b, s in zip(alone, together, sizes, strict=True):
        assert b.mask.shape == s and np.array_equal(a.mask, b.mask)
        assert np.array_equal(a.token_lengths, b.token_lengths)


def test_video_frames_of_an_image_model_share_batches(segmenter: Pix2SeqSegmenter) -> None:
    frames = np.stack(images(3, seed=4))
    video = Predictor(segmenter, batch_size=7).predict_video(frames)
    per_frame = [Predictor(segmenter, batch_size=1).predict_image(f) for f in frames]
    assert np.array_equal(video.mask, np.stack([p.mask for p in per_frame]))
    assert np.array_equal(video.token_lengths, np.concatenate([p.token_lengths for p in per_frame]))


def test_images_are_read_only_when_their_windows_are_needed(segmenter: Pix2SeqSegmenter) -> None:
    drawn: list[int] = []

    def source() -> Iterator[np.ndarray]:
        for i, image in enumerate(images(5, seed=5, shape=(16, 32))):  # 2 windows each
            drawn.append(i)
            yield image

    predictions = Predictor(segmenter, batch_size=3).predict_images(source())
    next(predictions)  # the first batch holds image 0 and half of image 1
    assert drawn == [0, 1]
    assert len(list(predictions)) == 4 and drawn == [0, 1, 2, 3, 4]


def test_default_batch_is_large_for_token_models_only(segmenter: Pix2SeqSegmenter) -> None:
    assert default_batch_size(segmenter) >= 64 > PIXEL_BATCH
    assert Predictor(segmenter).batch_size == default_batch_size(segmenter)
    with pytest.raises(ValueError, match="batch_size"):
        Predictor(segmenter, batch_size=-1)


def test_encoding_in_chunks_equals_one_encoder_call(segmenter: Pix2SeqSegmenter) -> None:
    batch = torch.from_numpy(np.stack(images(11, seed=6, shape=(16, 16)))).movedim(-1, 1).contiguous()
    with torch.no_grad():
        whole = segmenter.model.encode(batch)
        for chunk in (1, 4, 8, 11):
            parts = encode_in_chunks(segmenter.model, batch, chunk)
            assert parts.shape == whole.shape
            torch.testing.assert_close(parts, whole, rtol=1e-5, atol=1e-5)
