"""Frames of a tokenization animation: the steps of a trace, grouped when there are too many to show.

Frame 0 is the empty start; the last frame is EOS (the full decoding). With more steps than ``max_frames``
allows, consecutive steps share a frame: it shows the state after its last step and highlights all its
steps' runs and tokens. Each frame keeps the decoded mask it shows, so a test can check the picture against
the tokenizer exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rleseg.report.token_text import token_names
from rleseg.report.token_trace import TokenizationTrace


@dataclass(frozen=True)
class StepLine:
    """One line of the token list: the tokens of one step (a run, a group's class token, EOS) and their names."""

    step: int
    tokens: tuple[int, ...]
    names: tuple[str, ...]

    @property
    def text(self) -> str:
        """``"40 start 37 (2,5)  72 LAC c2 len 5"``: each token id followed by its name."""
        return "  ".join(f"{t} {n}" for t, n in zip(self.tokens, self.names, strict=True))


@dataclass(frozen=True)
class AnimFrame:
    """What one frame shows: the state after step ``last``, with steps ``first..last`` highlighted as new.

    ``mask``/``instances``: decoded from the tokens written so far (``TraceStep.mask``), ``mask_shape``.
    ``pending``: bool, runs written whose group is still open. ``fill``: bool, pixels of the new runs;
    ``dim``: bool, new background runs (``bac``) or segments (``diff``); ``ring``: bool, new pixels shown by
    an outline only (a group just closed by its class token, the background left implicit at EOS).
    ``lines``: the token list so far, one line per step.
    """

    first: int
    last: int
    mask: np.ndarray
    instances: np.ndarray | None
    pending: np.ndarray
    fill: np.ndarray
    dim: np.ndarray
    ring: np.ndarray
    num_tokens: int
    lines: tuple[StepLine, ...]

    @property
    def current(self) -> np.ndarray:
        """Every pixel the frame's new steps define (``fill | dim | ring``)."""
        return self.fill | self.dim | self.ring


def step_lines(trace: TokenizationTrace, class_names: list[str] | None = None) -> list[StepLine]:
    """One :class:`StepLine` per step after the empty start, in order; together they hold every token."""
    names = token_names(trace.tokenizer, trace.tokens, class_names)
    return [
        StepLine(i, tuple(int(t) for t in trace.tokens[s.start : s.stop]), tuple(names[s.start : s.stop]))
        for i, s in enumerate(trace.steps)
        if i > 0
    ]


def chunk_steps(num_steps: int, max_frames: int) -> list[tuple[int, int]]:
    """``(first, last)`` step ranges of the frames: one per step when they fit in ``max_frames``, else the
    middle steps grouped evenly; the empty start and EOS (the last step) always have their own frame."""
    if max_frames < 2:
        raise ValueError(f"max_frames must be at least 2 (the empty start and the end), got {max_frames}")
    if num_steps < 2:
        raise ValueError(f"a trace has at least 2 steps (start and EOS), got {num_steps}")
    if num_steps <= max_frames:
        return [(i, i) for i in range(num_steps)]
    middle = num_steps - 2  # steps 1 .. num_steps - 2
    groups = max_frames - 2
    if groups == 0:
        return [(0, 0), (1, num_steps - 1)]
    bounds = np.linspace(1, 1 + middle, groups + 1).round().astype(int)
    chunks = [(int(a), int(b) - 1) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    return [(0, 0), *chunks, (num_steps - 1, num_steps - 1)]


def plan_frames(
    trace: TokenizationTrace, max_frames: int = 150, class_names: list[str] | None = None
) -> list[AnimFrame]:
    """The frames of ``trace`` (at most ``max_frames``), each with its decoded mask and token lines."""
    lines = step_lines(trace, class_names)
    frames: list[AnimFrame] = []
    shape = trace.tokenizer.mask_shape
    for first, last in chunk_steps(len(trace.steps), max_frames):
        fill = np.zeros(shape, dtype=np.bool_)
        dim = np.zeros(shape, dtype=np.bool_)
        ring = np.zeros(shape, dtype=np.bool_)
        for step in trace.steps[max(first, 1) : last + 1]:
            target = {"run": fill, "pending": fill, "background": dim}.get(step.kind, ring)
            target |= step.current
        ring &= ~fill  # a run written and closed in the same frame is shown filled
        state = trace.steps[last]
        frames.append(
            AnimFrame(
                first,
                last,
                state.mask,
                state.instances,
                state.pending,
                fill,
                dim,
                ring,
                state.stop,
                tuple(lines[:last]),
            )
        )
    return frames
