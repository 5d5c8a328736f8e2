"""Colour overlays: fixed palette, background untouched, outlines, and the image | GT | prediction strip."""

from __future__ import annotations

import numpy as np
import pytest

from rleseg.report import PALETTE, boundaries, colorize, overlay, palette, side_by_side


def _mask() -> np.ndarray:
    mask = np.zeros((12, 16), np.int64)
    mask[2:6, 2:8] = 1
    mask[7:11, 9:15] = 2
    return mask


def test_colorize_uses_the_fixed_palette_with_black_background() -> None:
    mask = _mask()
    rgb = colorize(mask, num_classes=2)
    assert rgb.shape == (12, 16, 3) and rgb.dtype == np.uint8
    assert (rgb[mask == 0] == 0).all()
    assert (rgb[mask == 1] == PALETTE[1]).all() and (rgb[mask == 2] == PALETTE[2]).all()
    assert np.array_equal(colorize(mask, num_classes=9), rgb), "a class keeps its colour whatever C is"


def test_palette_colours_are_distinct_beyond_the_fixed_list() -> None:
    colours = palette(60)
    assert colours.shape == (61, 3) and tuple(colours[0]) == (0, 0, 0)
    assert len({tuple(c) for c in colours}) == 61


def test_overlay_blends_foreground_and_keeps_background() -> None:
    image = np.full((12, 16, 3), 100, np.uint8)
    mask = _mask()
    plain = overlay(image, mask, alpha=0.5, outline=False)
    assert (plain[mask == 0] == 100).all()
    expected = np.rint(0.5 * 100 + 0.5 * np.array(PALETTE[1])).astype(np.uint8)
    assert (plain[3, 4] == expected).all()
    outlined = overlay(image, mask, alpha=0.5)
    edge = boundaries(mask)
    assert edge[2, 2] and not edge[3, 4] and not edge[0, 0]
    assert (outlined[2, 2] == PALETTE[1]).all() and (outlined[3, 4] == expected).all()
    gray = overlay(image[..., 0], mask)
    assert gray.shape == (12, 16, 3)


def test_overlay_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="must match"):
        overlay(np.zeros((5, 5, 3), np.uint8), _mask())
    with pytest.raises(ValueError, match="above num_classes"):
        colorize(_mask(), num_classes=1)
    with pytest.raises(ValueError, match="uint8"):
        overlay(np.zeros((12, 16, 3), np.float32), _mask())


def test_side_by_side_strip() -> None:
    image = np.full((12, 16, 3), 50, np.uint8)
    gt, pred = _mask(), np.zeros((12, 16), np.int64)
    strip = side_by_side(image, gt, pred, num_classes=2, gap=4)
    assert strip.shape == (12 + 14, 3 * 16 + 2 * 4, 3)
    body = strip[14:]
    assert np.array_equal(body[:, :16], image)
    assert np.array_equal(body[:, 20:36], overlay(image, gt, num_classes=2))
    assert np.array_equal(body[:, 40:56], image), "an empty prediction leaves the image as it is"
    assert side_by_side(image, gt, pred, labels=()).shape == (12, 56, 3)
