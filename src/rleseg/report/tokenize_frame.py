"""One picture per animation frame: input mask, mask decoded so far, token list, legend (see
:mod:`rleseg.report.tokenize_render` for the layout and colours)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from rleseg.report.overlay import palette
from rleseg.report.token_frames import AnimFrame, StepLine, step_lines
from rleseg.report.token_text import scheme_summary
from rleseg.report.token_trace import TokenizationTrace
from rleseg.report.tokenize_render import (
    CAPTION,
    DIM_PURPLE,
    GHOST_ALPHA,
    INK,
    LINE,
    MARGIN,
    MUTED,
    PANEL,
    PENDING,
    PURPLE,
    RGB,
    TOKEN_ID,
    TOKEN_PAD,
    TOKEN_TEXT,
    WHITE,
    Layout,
    colours_of,
    draw_legend,
    draw_swatch,
    font,
    instance_colours,
    legend_entries,
    legend_width,
    make_layout,
    outline,
    paste,
    upscale,
)
from rleseg.tokenizers.cumulative import DiffTokenizer


class FrameRenderer:
    """Draws the frames of one trace with a fixed layout: ``FrameRenderer(trace).render(frame)``."""

    def __init__(self, trace: TokenizationTrace, class_names: list[str] | None = None) -> None:
        self.trace = trace
        tok = trace.tokenizer
        self.lines = step_lines(trace, class_names)
        self.entries = legend_entries(trace, class_names)
        self.layout: Layout = make_layout(trace, [ln.text for ln in self.lines], legend_width(self.entries))
        self.palette = palette(tok.num_classes)
        final = trace.steps[-1]
        self.final_instances = final.instances
        self.inst_lut = (
            None if final.instances is None else instance_colours(final.mask, final.instances, tok.num_classes)
        )
        self.input_rgb = self._frames(colours_of_all(final.mask, final.instances, self.palette, self.inst_lut))
        self.swatches = [self._swatch(i) for i in range(len(trace.steps))]
        self._sprites: dict[tuple[int, bool, bool], np.ndarray] = {}
        shape = tok.mask_shape
        frames = f", {shape[0]} frames" if len(shape) == 3 else ""
        self.title = f"{tok.name} tokenization of a {shape[-2]}×{shape[-1]} mask{frames}"
        self.subtitle = f"{scheme_summary(tok)} · {trace.tokens.size} tokens, {trace.num_runs} runs"

    # ----- per-step colours ------------------------------------------------------------------------------
    def _frames(self, arr: np.ndarray) -> np.ndarray:
        """A ``mask_shape`` array (or its RGB) as ``(N, H, W[, 3])``: one entry per shown frame."""
        return arr if len(self.trace.tokenizer.mask_shape) == 3 else arr[None]

    def _swatch(self, index: int) -> list[RGB]:
        """Colours of step ``index``'s run: one per frame for TAC, one otherwise; none for EOS. For ``diff``,
        the colour of the value its change sets."""
        step = self.trace.steps[index]
        cur = step.current
        tok = self.trace.tokenizer
        if isinstance(tok, DiffTokenizer) and step.kind not in ("start", "eos"):
            # the value the change sets, as its token says ("to dfc"); the step paints the segment before it
            w = tok.start_codec.width
            starts, _, _ = tok.start_codec.decode(
                self.trace.tokens[step.start : step.start + w].reshape(1, w), tok.vocab
            )
            flat = tok.flattening.flatten(self.trace.steps[-1].mask)
            return [self._colour(int(flat[int(starts[0])]), None)]
        if step.kind in ("start", "eos") or not cur.any():
            return []
        mask = self.trace.steps[-1].mask
        if self.trace.tokenizer.name in ("tac", "ltac"):
            return [self._colour(int(mask[f][cur[f]].max()), None) for f in range(cur.shape[0])]
        inst = None if self.final_instances is None else int(self.final_instances[cur].max())
        return [self._colour(int(mask[cur].max()), inst)]

    def _colour(self, value: int, instance: int | None) -> RGB:
        if instance and self.inst_lut is not None:
            c = self.inst_lut[instance]
        elif value == 0:
            return PANEL
        else:
            c = self.palette[value]
        return int(c[0]), int(c[1]), int(c[2])

    # ----- drawing -----------------------------------------------------------------------------------------
    def render(self, frame: AnimFrame) -> np.ndarray:
        """The picture of ``frame``: ``(height, width, 3)`` uint8, the same size for every frame."""
        lay = self.layout
        canvas = self._base().copy()
        decoded = self._decoded_rgb(frame)
        current = self._frames(frame.current)
        ring = self._frames(frame.ring)
        pw, ph = lay.panel
        for f in range(lay.frames):
            x, y = lay.panel_origin(0, f)
            canvas[y : y + ph, x : x + pw][outline(current[f], lay)] = PURPLE
            up = upscale(decoded[f], lay)
            up[outline(ring[f], lay)] = PURPLE
            paste(canvas, up, lay.panel_origin(1, f))
        self._paste_lines(canvas, frame)
        image = Image.fromarray(canvas)
        draw = ImageDraw.Draw(image)
        status = self._status(frame)
        bold = font(13, bold=True)
        draw.text((lay.canvas[0] - MARGIN - bold.getlength(status), MARGIN), status, fill=PURPLE, font=bold)
        header = f"tokens: {frame.num_tokens} of {self.trace.tokens.size} written (id, meaning)"
        draw.text((lay.tokens_x, lay.mask_y + 2), header, fill=INK, font=font(12))
        return np.asarray(image, dtype=np.uint8)

    def _base(self) -> np.ndarray:
        """What every frame shares, drawn once: titles, captions, input panels, token panel, legend."""
        if self._base_canvas is None:
            lay = self.layout
            canvas = np.empty((lay.canvas[1], lay.canvas[0], 3), dtype=np.uint8)
            canvas[...] = WHITE
            for f in range(lay.frames):
                paste(canvas, upscale(self.input_rgb[f], lay), lay.panel_origin(0, f))
            image = Image.fromarray(canvas)
            draw = ImageDraw.Draw(image)
            draw.text((MARGIN, MARGIN - 2), self.title, fill=INK, font=font(16, bold=True))
            draw.text((MARGIN, MARGIN + 22), self.subtitle, fill=MUTED, font=font(12))
            for f in range(lay.frames):
                for row in (0, 1):
                    if lay.frames > 1:
                        label = ("mask" if row == 0 else "decoded") + f" F{f + 1}"
                    else:
                        label = "mask" if row == 0 else "decoded from the tokens so far"
                    x, y = lay.panel_origin(row, f)
                    draw.text((x, y - CAPTION + 2), label, fill=INK, font=font(12))
            x0, y0 = lay.tokens_x, lay.mask_y + CAPTION
            draw.rectangle((x0, y0, x0 + lay.tokens_w, y0 + lay.tokens_h), fill=PANEL)
            draw_legend(draw, self.entries, MARGIN, lay.legend_y)
            self._base_canvas = np.asarray(image, dtype=np.uint8)
        return self._base_canvas

    _base_canvas: np.ndarray | None = None

    def _decoded_rgb(self, frame: AnimFrame) -> np.ndarray:
        """Colours of the decoded panel(s), ``(N, H, W, 3)``: committed runs in their colours, the rest of
        the input faintly, pending runs grey, new runs purple (new background runs dim purple)."""
        rgb = self._frames(colours_of_all(frame.mask, frame.instances, self.palette, self.inst_lut)).copy()
        todo = self._frames((self.trace.steps[-1].mask != 0) & (frame.mask == 0) & ~frame.pending & ~frame.current)
        ghost = (1 - GHOST_ALPHA) * np.asarray(PANEL) + GHOST_ALPHA * self.input_rgb[todo]
        rgb[todo] = np.rint(ghost).astype(np.uint8)
        rgb[self._frames(frame.pending)] = PENDING
        rgb[self._frames(frame.dim)] = DIM_PURPLE
        rgb[self._frames(frame.fill)] = PURPLE
        return rgb

    def _status(self, frame: AnimFrame) -> str:
        """What the frame adds, e.g. ``run 4 of 17``, ``runs 10-14 of 40``, ``class token: group 2 of 5``."""
        steps = self.trace.steps
        if frame.last == 0:
            return "nothing encoded yet"
        last = steps[frame.last]
        if last.kind == "eos" and frame.first == frame.last:
            return "EOS: the decoded mask equals the input"
        runs_before = sum(s.kind in ("run", "pending") for s in steps[: frame.first])
        runs_to = sum(s.kind in ("run", "pending") for s in steps[: frame.last + 1])
        total = self.trace.num_runs
        if frame.first == frame.last:
            if last.kind == "background":
                return f"background run (step {frame.last} of {len(steps) - 1})"
            if last.kind == "group":
                groups = [i for i, s in enumerate(steps) if s.kind == "group"]
                return f"class token: group {groups.index(frame.last) + 1} of {len(groups)} closed"
            return f"run {runs_to} of {total}"
        if runs_to > runs_before:
            return f"runs {runs_before + 1}–{runs_to} of {total}" + (" · EOS" if last.kind == "eos" else "")
        return f"steps {frame.first}–{frame.last} of {len(steps) - 1}"

    def _paste_lines(self, canvas: np.ndarray, frame: AnimFrame) -> None:
        """The token list of ``frame``: its last lines that fit, newest at the bottom."""
        lay = self.layout
        x0, y0 = lay.tokens_x + 2, lay.mask_y + CAPTION + TOKEN_PAD
        visible = (lay.tokens_h - 2 * TOKEN_PAD) // LINE
        lines = list(frame.lines)
        shown = lines[-visible:]
        if len(lines) > visible:  # older lines scroll off the top; the first visible line says so
            shown = lines[-(visible - 1) :]
            paste(canvas, self._sprite(f"… {len(lines) - len(shown)} earlier lines above"), (x0, y0))
            y0 += LINE
        for n, line in enumerate(shown):
            step = self.trace.steps[line.step]
            new = frame.first <= line.step <= frame.last
            committed = 0 <= step.commit <= frame.last
            paste(canvas, self._line_sprite(line, new, committed), (x0, y0 + n * LINE))

    def _sprite(self, text: str) -> np.ndarray:
        """A muted note on the token panel's background, one line high."""
        image = Image.new("RGB", (self.layout.tokens_w - 4, LINE), PANEL)
        ImageDraw.Draw(image).text((TOKEN_PAD - 2, 1), text, fill=TOKEN_ID, font=font(12, mono=True))
        return np.asarray(image, dtype=np.uint8)

    def _line_sprite(self, line: StepLine, new: bool, committed: bool) -> np.ndarray:
        """One token-list line as pixels ``(LINE, tokens_w - 4, 3)``, drawn once per (line, state)."""
        key = (line.step, new, committed)
        cached = self._sprites.get(key)
        if cached is not None:
            return cached
        width = self.layout.tokens_w - 4
        image = Image.new("RGB", (width, LINE), PURPLE if new else PANEL)
        draw = ImageDraw.Draw(image)
        x = TOKEN_PAD - 2
        for colour in self.swatches[line.step]:
            draw_swatch(draw, (x, 3), colour if committed else PENDING)
            x += 11
        x += 6 if self.swatches[line.step] else 0
        mono = font(12, mono=True)
        right = width - TOKEN_PAD
        done = False
        for token, name in zip(line.tokens, line.names, strict=True):
            for text, colour in (
                (f"{token} ", WHITE if new else TOKEN_ID),
                (f"{name}  ", WHITE if new else TOKEN_TEXT),
            ):
                w = mono.getlength(text)
                if x + w > right:
                    draw.text((x, 1), "…", fill=colour, font=mono)
                    done = True
                    break
                draw.text((x, 1), text, fill=colour, font=mono)
                x += int(w)
            if done:
                break
        sprite = np.asarray(image, dtype=np.uint8)
        self._sprites[key] = sprite
        return sprite


def colours_of_all(
    mask: np.ndarray, instances: np.ndarray | None, pal: np.ndarray, inst_lut: np.ndarray | None
) -> np.ndarray:
    """:func:`colours_of` for a ``(H, W)`` or ``(N, H, W)`` mask: ``mask.shape + (3,)`` uint8."""
    if mask.ndim == 2:
        return colours_of(mask, instances, pal, inst_lut)
    return np.stack(
        [colours_of(m, None if instances is None else instances[f], pal, inst_lut) for f, m in enumerate(mask)]
    )


def render_frames(
    trace: TokenizationTrace, frames: Sequence[AnimFrame], class_names: list[str] | None = None
) -> list[np.ndarray]:
    """Pictures of ``frames`` of ``trace``: a list of ``(height, width, 3)`` uint8 arrays of one size."""
    renderer = FrameRenderer(trace, class_names)
    return [renderer.render(f) for f in frames]
