"""Drawing one frame of a tokenization animation (numpy + Pillow; no matplotlib per frame).

A frame shows, left to right: the input mask (classes coloured on a pixel grid, the current run outlined in
purple), the mask decoded from the tokens written so far (committed runs in their class colours, runs of
an open ``cw``/``iw`` group in grey, the current run in purple, what is still to encode faintly), and the
token list (one line per run, newest lines on purple, each line's colour swatch showing the run's class).
Video masks show their N frames side by side, input above and decoded below, as in the paper's Fig. 5.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ImageDraw, ImageFont

from rleseg.report.overlay import palette
from rleseg.report.token_text import class_name
from rleseg.report.token_trace import TokenizationTrace

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
RGB = tuple[int, int, int]

WHITE: RGB = (255, 255, 255)
INK: RGB = (30, 30, 34)
MUTED: RGB = (110, 110, 118)
PANEL: RGB = (24, 24, 28)  # mask background (class 0) and token panel
GRID: RGB = (62, 62, 70)
PURPLE: RGB = (168, 72, 255)  # the current run, as in the paper's figures
DIM_PURPLE: RGB = (86, 52, 120)  # a background run (bac) or segment (diff) being written
PENDING: RGB = (175, 175, 182)  # runs of a group whose class token is still to come
TOKEN_ID: RGB = (120, 120, 130)
TOKEN_TEXT: RGB = (225, 225, 230)
GHOST_ALPHA = 0.3  # how strongly the not-yet-encoded part of the mask shows in the decoded panel

MARGIN = 16
GAP = 12
CAPTION = 18
LINE = 16
MIN_LINES = 18
TOKEN_PAD = 8


@functools.lru_cache(maxsize=16)
def font(size: int, mono: bool = False, bold: bool = False) -> Font:
    """DejaVu Sans (``mono``: Sans Mono) at ``size`` px from matplotlib's bundled fonts; Pillow's default
    font of that size when they are missing."""
    import matplotlib

    name = ("DejaVuSansMono" if mono else "DejaVuSans") + ("-Bold" if bold else "")
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / f"{name}.ttf"
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default(size)


def _shade(colour: np.ndarray, k: int) -> np.ndarray:
    """Variant ``k`` of a class colour (lighter or darker), so instances of one class stay in its hue."""
    steps = (0.0, -0.3, 0.35, -0.5, 0.55, -0.15, 0.2)
    t = steps[k % len(steps)]
    c = colour.astype(np.float64)
    out = c * (1 + t) if t < 0 else c + (255 - c) * t
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def instance_colours(classes: np.ndarray, instances: np.ndarray, num_classes: int) -> np.ndarray:
    """Colour of every instance id: ``(max id + 1, 3)`` uint8, each a shade of its class colour."""
    pal = palette(num_classes)
    lut = np.zeros((int(instances.max(initial=0)) + 1, 3), dtype=np.uint8)
    ids, first = np.unique(instances.reshape(-1), return_index=True)
    cls_of = classes.reshape(-1)[first]
    for n, (i, c) in enumerate(zip(ids.tolist(), cls_of.tolist(), strict=True)):
        if i > 0:
            lut[i] = _shade(pal[c], n)
    return lut


def _blend(rgb: np.ndarray, colour: RGB | np.ndarray, alpha: float) -> np.ndarray:
    return np.clip(np.rint((1 - alpha) * rgb + alpha * np.asarray(colour, dtype=np.float64)), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Layout:
    """Sizes and positions shared by every frame of one animation (so the GIF does not jump)."""

    frames: int  # mask frames side by side (N for video, 1 for images)
    height: int  # mask rows H
    width: int  # mask columns W
    cell: int  # screen pixels per mask pixel
    grid: bool
    video_rows: bool  # input above decoded (video) rather than side by side (image)
    mask_x: int
    mask_y: int
    tokens_x: int
    tokens_w: int
    tokens_h: int
    legend_y: int
    canvas: tuple[int, int]  # (width, height)

    @property
    def panel(self) -> tuple[int, int]:
        """(width, height) of one mask panel in screen pixels."""
        return self.width * self.cell, self.height * self.cell

    def panel_origin(self, row: int, frame: int) -> tuple[int, int]:
        """Top-left of the panel of ``row`` (0 input, 1 decoded) and mask ``frame``, below its caption."""
        pw, ph = self.panel
        if self.video_rows:
            return self.mask_x + frame * (pw + GAP), self.mask_y + row * (ph + CAPTION + GAP) + CAPTION
        return self.mask_x + row * (pw + GAP), self.mask_y + CAPTION


def make_layout(trace: TokenizationTrace, line_texts: Sequence[str], legend_width: int) -> Layout:
    """The layout of ``trace``'s frames: cell size from the mask size, token panel wide enough for the
    longest line of ``line_texts`` (within limits), canvas wide enough for the legend."""
    shape = trace.tokenizer.mask_shape
    frames = shape[0] if len(shape) == 3 else 1
    h, w = shape[-2:]
    target = 300 if frames == 1 else (220 if frames <= 3 else 150)
    cell = int(np.clip(round(target / max(h, w)), 3, 28))
    grid = cell >= 6
    pw, ph = w * cell, h * cell
    video_rows = frames > 1
    mask_w = frames * pw + (frames - 1) * GAP if video_rows else 2 * pw + GAP
    mask_h = 2 * (ph + CAPTION) + GAP if video_rows else ph + CAPTION
    mono = font(12, mono=True)
    longest = max((mono.getlength(t) for t in line_texts), default=200.0)
    swatch = frames * 11 + 6
    tokens_w = int(np.clip(longest + swatch + 2 * TOKEN_PAD + 30, 320, 620))
    tokens_h = max(mask_h - CAPTION, LINE * (MIN_LINES + 1) + 2 * TOKEN_PAD)
    top = MARGIN + 46  # title and subtitle
    tokens_x = MARGIN + mask_w + 2 * GAP
    body_h = max(mask_h, tokens_h + CAPTION)
    legend_y = top + body_h + GAP
    width = max(tokens_x + tokens_w + MARGIN, legend_width + 2 * MARGIN)
    height = legend_y + 20 + MARGIN
    return Layout(
        frames, h, w, cell, grid, video_rows, MARGIN, top, tokens_x, tokens_w, tokens_h, legend_y, (width, height)
    )


def upscale(rgb: np.ndarray, layout: Layout) -> np.ndarray:
    """``(H, W, 3)`` colours -> ``(H*cell, W*cell, 3)`` with a pixel grid when cells are big enough."""
    c = layout.cell
    up = np.repeat(np.repeat(rgb, c, axis=0), c, axis=1)
    if layout.grid:
        up[::c, :] = _blend(up[::c, :], GRID, 0.75)
        up[:, ::c] = _blend(up[:, ::c], GRID, 0.75)
    return up


def outline(mask: np.ndarray, layout: Layout) -> np.ndarray:
    """Screen pixels on the inner border of ``mask`` (``(H, W)`` bool) upscaled: ``(H*cell, W*cell)`` bool."""
    c = layout.cell
    up = np.repeat(np.repeat(mask, c, axis=0), c, axis=1)
    width = max(2, c // 6)
    inner = up.copy()
    for _ in range(width):  # erode by one screen pixel per pass (4-neighbourhood; outside counts as empty)
        eroded = inner.copy()
        eroded[1:] &= inner[:-1]
        eroded[:-1] &= inner[1:]
        eroded[:, 1:] &= inner[:, :-1]
        eroded[:, :-1] &= inner[:, 1:]
        eroded[0] = eroded[-1] = False
        eroded[:, 0] = eroded[:, -1] = False
        inner = eroded
    return up & ~inner


def paste(canvas: np.ndarray, image: np.ndarray, xy: tuple[int, int]) -> None:
    """Copy ``image`` into ``canvas`` with its top-left at ``xy = (x, y)``."""
    x, y = xy
    canvas[y : y + image.shape[0], x : x + image.shape[1]] = image


def draw_swatch(draw: ImageDraw.ImageDraw, xy: tuple[int, int], colour: RGB, size: int = 9) -> None:
    """A small filled square with a thin light border (visible on dark and light backgrounds)."""
    x, y = xy
    draw.rectangle((x, y, x + size, y + size), fill=colour, outline=(150, 150, 158))


def legend_entries(trace: TokenizationTrace, class_names: Sequence[str] | None) -> list[tuple[RGB | None, str]]:
    """Colour (None: text only) and text of each legend entry: the classes present, then the markers
    this scheme uses."""
    tok = trace.tokenizer
    pal = palette(tok.num_classes)
    present = sorted(set(np.unique(trace.mask).tolist()) - {0})
    entries: list[tuple[RGB | None, str]] = [(_rgb(pal[c]), class_name(c, class_names)) for c in present]
    if trace.instances is not None:
        entries.append((None, "(one shade of its class per instance)"))
    entries.append((PURPLE, "current run"))
    if any(s.kind == "background" for s in trace.steps):
        entries.append((DIM_PURPLE, "current background run"))
    if any(s.kind == "pending" for s in trace.steps):
        entries.append((PENDING, "written, class token still to come"))
    entries.append((_ghost_colour(pal[present[0]] if present else np.array(WHITE)), "still to encode"))
    return entries


def _rgb(colour: np.ndarray) -> RGB:
    return int(colour[0]), int(colour[1]), int(colour[2])


def _ghost_colour(colour: np.ndarray) -> RGB:
    return _rgb(_blend(np.asarray(PANEL, dtype=np.float64), colour, GHOST_ALPHA))


def legend_width(entries: Sequence[tuple[RGB | None, str]]) -> int:
    """Screen width the legend row needs."""
    f = font(12)
    return int(sum(f.getlength(text) + 16 + (16 if colour is not None else 0) for colour, text in entries))


def draw_legend(draw: ImageDraw.ImageDraw, entries: Sequence[tuple[RGB | None, str]], x: int, y: int) -> None:
    """The legend row: a swatch (unless the colour is None) and its text per entry."""
    f = font(12)
    for colour, text in entries:
        if colour is not None:
            draw_swatch(draw, (x, y + 3), colour, 10)
            x += 16
        draw.text((x, y), text, fill=INK, font=f)
        x += int(f.getlength(text)) + 16


def colours_of(
    mask: np.ndarray, instances: np.ndarray | None, pal: np.ndarray, inst_lut: np.ndarray | None
) -> np.ndarray:
    """Label colours of one ``(H, W)`` mask (instance shades where ``instances`` are given): ``(H, W, 3)``."""
    rgb = pal[mask.astype(np.int64)]
    rgb[mask == 0] = PANEL
    if instances is not None and inst_lut is not None:
        inst = instances.astype(np.int64)
        rgb = np.where((inst > 0)[..., None], inst_lut[np.minimum(inst, len(inst_lut) - 1)], rgb)
    return rgb.astype(np.uint8)
