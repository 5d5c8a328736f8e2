"""Colour overlays of label masks on images, and image | ground truth | prediction strips.

Class ``k`` always gets the same colour, whatever the number of classes: ``PALETTE[k]`` (class 1 green and
class 2 red, as in the paper's figures), and generated hues beyond the fixed palette. Class 0 (background)
is black in :func:`colorize` and left untouched (transparent) in :func:`overlay`.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# background, then well-separated colours; class 1 green and class 2 red like the paper's IPSC / DfC figures
PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (0, 200, 0),
    (230, 25, 25),
    (30, 110, 255),
    (255, 215, 0),
    (200, 0, 200),
    (0, 210, 210),
    (255, 130, 0),
    (140, 80, 255),
    (160, 255, 60),
    (255, 105, 180),
    (0, 128, 128),
    (170, 110, 40),
    (128, 0, 0),
    (128, 128, 0),
    (0, 0, 140),
    (255, 190, 150),
    (190, 190, 255),
    (128, 128, 128),
    (255, 255, 255),
)
LABEL_HEIGHT = 14  # pixels of the caption band above each panel of a strip


def palette(num_classes: int) -> np.ndarray:
    """Colours of labels ``0..num_classes``: ``(num_classes + 1, 3)`` uint8, row 0 black (background).

    The first 20 rows are :data:`PALETTE`; further classes get hues stepped by the golden angle.
    """
    if num_classes < 0:
        raise ValueError(f"num_classes must be >= 0, got {num_classes}")
    colours = list(PALETTE[: num_classes + 1])
    for k in range(len(colours), num_classes + 1):
        hue = (k * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, 0.85 if k % 2 else 0.6, 1.0 if k % 3 else 0.75)
        colours.append((round(255 * r), round(255 * g), round(255 * b)))
    return np.asarray(colours, dtype=np.uint8).reshape(-1, 3)


def _check_mask(mask: np.ndarray, num_classes: int | None) -> tuple[np.ndarray, int]:
    """``mask`` as an integer ``(H, W)`` array and the class count to colour it with."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or not (np.issubdtype(mask.dtype, np.integer) or mask.dtype == np.bool_):
        raise ValueError(f"expected an (H, W) integer label mask, got {mask.dtype} {mask.shape}")
    lo = int(mask.min()) if mask.size else 0
    hi = int(mask.max()) if mask.size else 0
    if lo < 0:
        raise ValueError(f"mask holds negative label {lo}; expected 0 (background) .. C")
    if num_classes is None:
        num_classes = hi
    elif hi > num_classes:
        raise ValueError(f"mask holds label {hi}, above num_classes={num_classes}")
    return mask.astype(np.int64, copy=False), num_classes


def colorize(mask: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Label mask ``(H, W)`` (0 background, classes 1..C) -> ``(H, W, 3)`` uint8 colours, background black.

    ``num_classes``: C, checked against the mask (None: the largest label present).
    """
    mask, c = _check_mask(mask, num_classes)
    return palette(c)[mask]


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` gray or ``(H, W, 3|4)`` uint8 -> ``(H, W, 3)`` uint8."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return image[..., :3]
    raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")


def boundaries(mask: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: foreground pixels with a 4-neighbour of another label (the inner outline)."""
    edge = np.zeros(mask.shape, dtype=bool)
    diff_v = mask[1:] != mask[:-1]  # (H-1, W)
    diff_h = mask[:, 1:] != mask[:, :-1]  # (H, W-1)
    edge[1:] |= diff_v
    edge[:-1] |= diff_v
    edge[:, 1:] |= diff_h
    edge[:, :-1] |= diff_h
    return edge & (mask > 0)


def overlay(
    image: np.ndarray,
    mask: np.ndarray,
    alpha: float = 0.45,
    outline: bool = True,
    num_classes: int | None = None,
) -> np.ndarray:
    """Blend class colours over ``image``: ``(H, W, 3)`` uint8 (or ``(H, W)`` gray) + ``(H, W)`` labels.

    Foreground pixels become ``(1 - alpha) * image + alpha * colour``; background stays as it is. With
    ``outline`` the border pixels of every labelled region are drawn in full colour. Returns ``(H, W, 3)``
    uint8.
    """
    rgb = _as_rgb(image)
    mask, c = _check_mask(mask, num_classes)
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"mask is {mask.shape} but the image is {rgb.shape[:2]}; they must match")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    colours = palette(c)[mask].astype(np.float32)
    fg = (mask > 0)[..., None]
    blended = np.where(fg, (1.0 - alpha) * rgb.astype(np.float32) + alpha * colours, rgb.astype(np.float32))
    out = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    if outline:
        edge = boundaries(mask)
        out[edge] = palette(c)[mask[edge]]
    return out


def _caption(draw: ImageDraw.ImageDraw, text: str, x: int, width: int) -> None:
    """Write ``text`` centred in a ``width``-wide caption band at ``x``, shortened until it fits."""
    font = ImageFont.load_default()
    while text and draw.textlength(text, font=font) > width - 2:
        text = text[:-1]
    if text:
        left = x + max(0, int((width - draw.textlength(text, font=font)) // 2))
        draw.text((left, 1), text, fill=(255, 255, 255), font=font)


def side_by_side(
    image: np.ndarray,
    gt: np.ndarray,
    pred: np.ndarray,
    num_classes: int | None = None,
    *,
    labels: Sequence[str] = ("image", "ground truth", "prediction"),
    alpha: float = 0.45,
    gap: int = 4,
) -> np.ndarray:
    """A strip ``image | ground-truth overlay | prediction overlay`` with a caption above each panel.

    ``image`` ``(H, W, 3)`` uint8, ``gt`` and ``pred`` ``(H, W)`` labels. ``labels``: the three captions
    (empty strings or ``labels=()`` for none). Returns ``(H + 14, 3 W + 2 gap, 3)`` uint8 (``(H, ...)``
    without captions), dark grey between panels.
    """
    rgb = _as_rgb(image)
    gt_arr, c_gt = _check_mask(gt, num_classes)
    pred_arr, c_pred = _check_mask(pred, num_classes)
    c = max(c_gt, c_pred)
    panels = [rgb, overlay(rgb, gt_arr, alpha, num_classes=c), overlay(rgb, pred_arr, alpha, num_classes=c)]
    h, w = rgb.shape[:2]
    top = LABEL_HEIGHT if any(labels) else 0
    strip = np.full((h + top, 3 * w + 2 * gap, 3), 40, dtype=np.uint8)
    for k, panel in enumerate(panels):
        strip[top:, k * (w + gap) : k * (w + gap) + w] = panel
    if top:
        canvas = Image.fromarray(strip)
        draw = ImageDraw.Draw(canvas)
        for k, text in enumerate(labels):
            _caption(draw, str(text), k * (w + gap), w)
        strip = np.asarray(canvas, dtype=np.uint8).copy()
    return strip
