"""Animated GIF and still PNG strip of a mask being tokenized run by run (the paper's Figs. 4, 5, 13-16).

>>> from rleseg.tokenizers import create_tokenizer
>>> tok = create_tokenizer("lac", mask_size=16, num_classes=2)
>>> result = tokenize_animation(tok, mask, Path("out"))  # out/tokenize-lac.gif and out/tokenize-lac.png

Everything shown comes from the real tokenizer: the tokens are ``tok.encode(mask)`` and every frame's mask
is ``tok.decode`` of the tokens written so far (:mod:`rleseg.report.token_trace`), so the animation is
exactly what the scheme does, and its last frame is the input mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from rleseg.atomic import atomic_path
from rleseg.report.token_frames import AnimFrame, plan_frames
from rleseg.report.token_trace import TokenizationTrace, trace_tokenization
from rleseg.report.tokenize_frame import render_frames
from rleseg.tokenizers.base import Tokenizer

MAX_SIDE = 64  # beyond this a mask pixel is under 4 screen pixels and the token list runs to thousands of lines
MAX_FPS = 50.0
FIRST_FRAME_MS = 1200
LAST_FRAME_MS = 3000


@dataclass(frozen=True)
class TokenizeAnimation:
    """What :func:`tokenize_animation` wrote and showed: the GIF, the strip PNG, the trace and the frames."""

    gif: Path
    strip: Path
    trace: TokenizationTrace
    frames: list[AnimFrame]


def check_animatable(tok: Tokenizer) -> None:
    """ValueError when ``tok``'s mask is too big to animate readably, saying which mask size to use."""
    h, w = tok.mask_shape[-2:]
    if max(h, w) > MAX_SIDE:
        raise ValueError(
            f"a {h}x{w} mask is too big for a readable tokenization animation (at most {MAX_SIDE} pixels a side: "
            f"beyond that a pixel is under 4 screen pixels and the runs number in the thousands); "
            f"use a mask size of 32 or less (the mask is subsampled to it)"
        )


def key_frames(num_frames: int, count: int = 4) -> list[int]:
    """Indices of ``count`` frames evenly spread over the animation, the last one included (frame 0, the
    empty start, only when there are no others)."""
    if num_frames <= 1:
        return list(range(num_frames))
    picks = np.linspace(0, num_frames - 1, count + 1)[1:].round().astype(int)
    return sorted(set(picks.tolist()))


def write_gif(path: Path, images: list[np.ndarray], fps: float) -> Path:
    """Write ``images`` (``(H, W, 3)`` uint8, one size) as a looping GIF, atomically; returns ``path``.

    All frames share one palette (taken from the first, middle and last frames), so colours do not
    flicker; the first frame stays ``FIRST_FRAME_MS`` and the last ``LAST_FRAME_MS`` milliseconds.
    """
    if not images:
        raise ValueError(f"{path}: no frames to write")
    if not 0 < fps <= MAX_FPS:
        raise ValueError(f"fps must be in (0, {MAX_FPS:g}], got {fps}")
    sample = np.concatenate([images[0], images[len(images) // 2], images[-1]], axis=0)
    shared = Image.fromarray(sample[::2, ::2]).quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    frames = [Image.fromarray(im).quantize(palette=shared, dither=Image.Dither.NONE) for im in images]
    durations = [round(1000 / fps)] * len(frames)
    durations[0] = max(durations[0], FIRST_FRAME_MS)
    durations[-1] = max(durations[-1], LAST_FRAME_MS)
    with atomic_path(path) as tmp:
        frames[0].save(
            tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0, disposal=1
        )
    return path


def write_strip(path: Path, images: list[np.ndarray], gap: int = 6) -> Path:
    """Stack ``images`` (``(H, W, 3)`` uint8, one size) top to bottom with light grey gaps into one PNG,
    atomically; returns ``path``."""
    if not images:
        raise ValueError(f"{path}: no frames to write")
    h, w, _ = images[0].shape
    strip = np.full((len(images) * (h + gap) - gap, w, 3), 215, dtype=np.uint8)
    for i, im in enumerate(images):
        strip[i * (h + gap) : i * (h + gap) + h] = im
    with atomic_path(path) as tmp:
        Image.fromarray(strip).save(tmp, format="PNG")
    return path


def tokenize_animation(
    tok: Tokenizer,
    mask: np.ndarray,
    out_dir: Path,
    *,
    instances: np.ndarray | None = None,
    class_names: list[str] | None = None,
    max_frames: int = 150,
    fps: float = 3.0,
    strip_frames: int = 4,
) -> TokenizeAnimation:
    """Write ``out_dir/tokenize-<scheme>.gif`` (every step, or groups of steps past ``max_frames``) and
    ``out_dir/tokenize-<scheme>.png`` (``strip_frames`` key frames stacked).

    ``mask``: ``tok.mask_shape`` class ids (``(H, W)``, or ``(N, H, W)`` for video schemes); ``instances``:
    instance ids of the same shape, for ``iw``. ``class_names``: background first, for the token names.
    Raises ValueError for a mask too big to animate (:func:`check_animatable`), input the tokenizer rejects,
    ``max_frames < 2`` or a bad ``fps``.
    """
    check_animatable(tok)
    if not 0 < fps <= MAX_FPS:
        raise ValueError(f"fps must be in (0, {MAX_FPS:g}], got {fps}")
    trace = trace_tokenization(tok, mask, instances)
    frames = plan_frames(trace, max_frames, class_names)
    images = render_frames(trace, frames, class_names)
    gif = write_gif(out_dir / f"tokenize-{tok.name}.gif", images, fps)
    strip = write_strip(
        out_dir / f"tokenize-{tok.name}.png", [images[i] for i in key_frames(len(images), strip_frames)]
    )
    return TokenizeAnimation(gif, strip, trace, frames)
