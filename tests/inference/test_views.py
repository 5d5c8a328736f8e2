"""Test-time views: the 8 symmetries map back exactly, an equivariant model gives the same masks with any number
of views, a model tied to window coordinates gets its views merged by the rule, and the combinations that
cannot be merged are refused with a message naming the setting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.inference.test_predictor import TINY, painted

from rleseg.config import Config, TokenizerConfig
from rleseg.inference.predictor import Predictor
from rleseg.inference.views import VIEW_COUNTS, from_view, predict_views, to_view, view_indices
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.segmenters.spec import WindowPrediction
from rleseg.tokenizers import create_tokenizer
from rleseg.tokenizers.resolution import subsample


def test_every_view_maps_back_exactly_and_the_eight_are_distinct() -> None:
    x = torch.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5)  # (B, C, H, W), any leading dimensions
    seen = set()
    for k in view_indices(8):
        assert torch.equal(from_view(to_view(x, k), k), x)
        seen.add(to_view(x, k)[0, 0].flatten().tolist().__str__())
    assert len(seen) == 8
    flat = torch.arange(12).reshape(3, 4)
    assert [to_view(flat, k).shape for k in view_indices(4)] == [(3, 4)] * 4, "flips keep the window's shape"
    assert torch.equal(to_view(flat, view_indices(2)[1]), flat.flip(-1)), "2 views: the window and its mirror"


@pytest.mark.parametrize("count", [0, 3, 16])
def test_other_view_counts_are_refused(count: int) -> None:
    with pytest.raises(ValueError, match=rf"data.eval_views, --views\): expected 1, 2, 4 or 8, got {count}"):
        view_indices(count)


def segmenter_predictor(**kw: object) -> Predictor:
    """A LAC predictor at S = P / 2 = 8 whose segmenter 'predicts' the image's red channel (= label * 100)."""
    tok = create_tokenizer("lac", mask_size=8, num_classes=2)
    cfg = Config(tokenizer=TokenizerConfig(name="lac", mask_size=8), model=TINY)
    cfg.data.patch_size = 16
    segmenter = Pix2SeqSegmenter.from_tokenizer(cfg, tok, ["background", "a", "b"])
    batches: list[int] = []

    def exact(images: torch.Tensor, previous: WindowPrediction | None = None) -> WindowPrediction:
        batches.append(len(images))
        red = images[..., 0, :, :].numpy().astype(np.int64) // 100  # (B, P, P)
        lengths = torch.arange(len(images), dtype=torch.int64)
        return WindowPrediction(torch.from_numpy(subsample(red, 2)), None, {"lengths": lengths})

    segmenter.predict_windows = exact  # type: ignore[method-assign]
    predictor = Predictor(segmenter, **kw)  # type: ignore[arg-type]
    predictor.batches = batches  # type: ignore[attr-defined]
    return predictor


@pytest.mark.parametrize("rule", ["vote", "fg-vote", "average"])
@pytest.mark.parametrize("views", VIEW_COUNTS)
def test_an_exact_model_stays_exact_in_every_view(rule: str, views: int) -> None:
    predictor = segmenter_predictor(merge=rule, stride=8, views=views, batch_size=16)
    labels, image = painted((38, 54), seed=4)
    out = predictor.predict_image(image)
    assert np.array_equal(out.mask, labels)
    assert out.token_lengths.shape == (4 * 6,), "one sequence length per window, not per view"
    assert predictor.batches[0] == 16 and sum(predictor.batches) == 4 * 6 * views, "16 window views a batch"


def test_views_of_a_model_tied_to_window_coordinates_are_merged_by_the_rule() -> None:
    def left_half(images: torch.Tensor) -> WindowPrediction:  # class 1 on the left half, whatever the image
        masks = torch.zeros(len(images), 4, 4, dtype=torch.int64)
        masks[..., :2] = 1
        return WindowPrediction(masks, None, {})

    images = torch.zeros(3, 3, 8, 8, dtype=torch.uint8)
    one = predict_views(left_half, images, 1, "fg-vote", 1).masks
    assert one[:, :, :2].eq(1).all() and one[:, :, 2:].eq(0).all()
    union = predict_views(left_half, images, 2, "fg-vote", 1).masks  # the mirror view puts it on the right half
    assert union.eq(1).all(), "fg-vote: foreground where half of the views say so"
    assert predict_views(left_half, images, 2, "vote", 1).masks.eq(0).all(), "vote: ties go to the background"
    four = predict_views(left_half, images, 4, "vote", 1).masks
    assert four.eq(0).all(), "flips and the half turn: two of four views on each half"


def test_average_merges_the_mean_of_class_probabilities() -> None:
    def probs_model(images: torch.Tensor) -> WindowPrediction:  # p(class 1) = 0.9 on the left column, else 0.2
        p1 = torch.full((len(images), 1, 2, 2), 0.2)
        p1[..., 0] = 0.9
        probs = torch.cat([1 - p1, p1], 1)  # (B, C + 1, h, w)
        return WindowPrediction(probs.argmax(1), None, {"probs": probs})

    out = predict_views(probs_model, torch.zeros(1, 3, 4, 4, dtype=torch.uint8), 2, "average", 1)
    assert torch.allclose(out.extras["probs"][0, 1], torch.full((2, 2), 0.55))
    assert out.masks.eq(1).all(), "mean 0.55 on both columns"


def test_views_that_cannot_be_merged_are_refused() -> None:
    with pytest.raises(ValueError, match=r"data.eval_views=4\) need a merge rule .* got 'latest'"):
        segmenter_predictor(merge="latest", views=4)
    with pytest.raises(ValueError, match="expected 1, 2, 4 or 8, got 5"):
        segmenter_predictor(views=5)
    with pytest.raises(ValueError, match=r"needs square windows, got \(16, 24\)"):  # the predictor pads to squares
        predict_views(lambda x: WindowPrediction(x[:, 0], None, {}), torch.zeros(1, 3, 16, 24), 8, "vote", 1)
    iw = create_tokenizer("iw", mask_size=8, num_classes=2)
    cfg = Config(tokenizer=TokenizerConfig(name="iw", mask_size=8), model=TINY)
    cfg.data.patch_size = 16
    segmenter = Pix2SeqSegmenter.from_tokenizer(cfg, iw, ["background", "a", "b"])
    with pytest.raises(ValueError, match="instance-aware model's instance ids cannot be merged across views"):
        Predictor(segmenter, views=2)
    segmenter.cfg.data.eval_views = 2  # the config's value is the default
    with pytest.raises(ValueError, match="data.eval_views=2"):
        Predictor(segmenter)
