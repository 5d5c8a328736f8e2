"""Grammar for constrained decoding: which tokens may come next after a batch of prefixes.

A :class:`Grammar` keeps a small state per sequence (torch tensors, so it runs on the model's device) and
answers, for the whole batch at once, a boolean mask over the vocabulary. Any sequence built only from
allowed tokens decodes with nothing dropped: starts stay inside the mask and (in raster order) after the
previous run, lengths never pass the end of their line, groups are always closed by a class token, and the
budget ``max_len`` always leaves room to finish the current run and write EOS.

Incremental use (one call each per decoding step)::

    g = make_grammar(tok, max_len=512)
    state = g.init_state(batch_size)
    for _ in range(512):
        logits[~g.allowed(state)] = -inf
        next_tokens = sample(logits)
        state = g.step(state, next_tokens)

``g.allowed_next(prefixes)`` answers the same question from a ``(B, T)`` tensor of prefixes directly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from rleseg.tokenizers.base import Tokenizer
from rleseg.tokenizers.cumulative import BACTokenizer, DiffTokenizer
from rleseg.tokenizers.flat import FlatRLETokenizer
from rleseg.tokenizers.grouped import ClassWiseTokenizer, GroupedRLETokenizer
from rleseg.tokenizers.vocab import EOS, PAD, PROMPT, TokenRange

MAX_GRAMMAR_VOCAB = 1 << 26


@dataclass
class GrammarState:
    """Per-sequence decoding state; every field is a ``(B,)`` tensor."""

    pos: torch.Tensor  # tokens written so far (prompt excluded)
    done: torch.Tensor  # EOS written
    phase: torch.Tensor  # position inside the current run's token tuple
    cursor: torch.Tensor  # smallest allowed next start (raster order) / current position (bac)
    start: torch.Tensor  # flat start of the run being written
    line: torch.Tensor  # line index of the run being written (2-D starts)
    group_runs: torch.Tensor  # complete runs in the open group (cw, iw)
    last_class: torch.Tensor  # class of the last closed group (cw), 0 before any
    value: torch.Tensor  # current value after the last change (diff)

    def clone(self) -> GrammarState:
        """Independent copy (tensors cloned)."""
        return GrammarState(**{f.name: getattr(self, f.name).clone() for f in fields(self)})


# phase kinds of a run tuple
START, LINE, OFFSET, LENGTH, VALUE, LAC, BAC_LEN, BAC_VALUE, BAC_LAC, DIFF_VALUE = range(10)


class Grammar:
    """Constrained-decoding grammar of one tokenizer; see the module docstring."""

    def __init__(self, tok: Tokenizer, *, max_len: int | None = None, device: torch.device | str | None = None):
        if tok.vocab_size > MAX_GRAMMAR_VOCAB:
            raise ValueError(
                f"{tok.name}: vocabulary of {tok.vocab_size} tokens is too large for a model or a grammar "
                f"(limit {MAX_GRAMMAR_VOCAB})"
            )
        self.tok = tok
        self.vocab = tok.vocab
        self.max_len = max_len if max_len is not None else tok.max_len
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.monotonic = tok.run_order == "raster"
        flat = tok.flattening  # type: ignore[attr-defined]  # every scheme with a grammar has one
        self.n = flat.size
        self.line_len = flat.line_len
        self.num_lines = flat.num_lines
        self.program = self._program()
        self.k = len(self.program)
        self._aranges: dict[str, torch.Tensor] = {}

    # ----- the scheme's run tuple ---------------------------------------------------------------------
    def _program(self) -> list[int]:
        tok = self.tok
        if isinstance(tok, BACTokenizer):
            return [BAC_LEN, BAC_VALUE] if tok.classes == "token" else [BAC_LAC]
        starts = [START] if getattr(tok, "starts", "1d") == "1d" else [LINE, OFFSET]
        if isinstance(tok, DiffTokenizer):
            return starts + ([] if tok.binary else [DIFF_VALUE])
        mode = tok.value_codec.mode  # type: ignore[attr-defined]
        return starts + {"length": [LENGTH], "class": [LENGTH, VALUE], "lac": [LAC]}[mode]

    @property
    def grouped(self) -> bool:
        """True for schemes whose groups are closed by a class token (cw, iw)."""
        return isinstance(self.tok, GroupedRLETokenizer)

    def _range(self, name: str) -> TokenRange:
        return self.vocab[name]

    def _arange(self, name: str) -> torch.Tensor:
        if name not in self._aranges:
            self._aranges[name] = torch.arange(self.vocab[name].size, device=self.device)
        return self._aranges[name]

    # ----- state --------------------------------------------------------------------------------------
    def init_state(self, batch_size: int) -> GrammarState:
        """State of ``batch_size`` empty sequences."""

        def z() -> torch.Tensor:
            return torch.zeros(batch_size, dtype=torch.long, device=self.device)

        return GrammarState(
            pos=z(),
            done=torch.zeros(batch_size, dtype=torch.bool, device=self.device),
            phase=z(),
            cursor=z(),
            start=z(),
            line=z(),
            group_runs=z(),
            last_class=z(),
            value=z(),
        )

    def _remaining(self, s: GrammarState) -> torch.Tensor:
        if self.max_len is None:
            return torch.full_like(s.pos, 1 << 60)
        return self.max_len - s.pos

    # ----- the allowed set ----------------------------------------------------------------------------
    def allowed(self, s: GrammarState) -> torch.Tensor:
        """``(B, V)`` bool: the tokens each sequence may write next."""
        b = s.pos.shape[0]
        out = torch.zeros(b, self.vocab.size, dtype=torch.bool, device=self.device)
        live = ~s.done
        rem = self._remaining(s)
        at_boundary = live & (s.phase == 0)
        ll = self.line_len
        need = self.k + 1 + (1 if self.grouped else 0)  # run, EOS (and the group's terminator)
        room = at_boundary & (rem >= need)
        lo0 = s.cursor if self.monotonic else torch.zeros_like(s.cursor)
        tok = self.tok

        def allow(name: str, on: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, attr: str = "index") -> None:
            r = self._range(name)
            a = self._arange(name)
            if attr == "plus1":
                a = a + 1
            elif attr == "lac_len":
                a = a % ll + 1
            ok = on[:, None] & (a[None, :] >= lo[:, None]) & (a[None, :] <= hi[:, None])
            out[:, r.start : r.stop] |= ok

        first = self.program[0]
        if first == START:
            start_lo = s.cursor if isinstance(tok, DiffTokenizer) else lo0  # diff: after the last change
            on = room & (start_lo < self.n)
            if isinstance(tok, ClassWiseTokenizer) and self.monotonic:
                on &= s.last_class < tok.num_classes
            allow("starts", on, start_lo, torch.full_like(start_lo, self.n - 1))
        elif first == LINE:
            start_lo = s.cursor if (self.monotonic or isinstance(tok, DiffTokenizer)) else torch.zeros_like(s.cursor)
            on = room & (start_lo < self.n)
            if isinstance(tok, ClassWiseTokenizer) and self.monotonic:
                on &= s.last_class < tok.num_classes
            allow("coords", on, start_lo // ll, torch.full_like(start_lo, self.num_lines - 1))
            in_off = live & (s.phase == 1)
            off_lo = torch.where(s.line == start_lo // ll, start_lo % ll, torch.zeros_like(start_lo))
            allow("coords", in_off, off_lo, torch.full_like(off_lo, ll - 1))
        elif first in (BAC_LEN, BAC_LAC):
            on = room & (s.cursor < self.n)
            limit = ll - s.cursor % ll
            allow(
                "lengths" if first == BAC_LEN else "bac_lac",
                on,
                torch.ones_like(limit),
                limit,
                "plus1" if first == BAC_LEN else "lac_len",
            )

        for i, kind in enumerate(self.program):
            if i == 0 and kind in (START, LINE, BAC_LEN, BAC_LAC):
                continue
            if kind == OFFSET:
                continue  # handled with LINE
            here = live & (s.phase == i)
            limit = ll - s.start % ll
            one = torch.ones_like(limit)
            if kind == LENGTH:
                allow("lengths", here, one, limit, "plus1")
            elif kind == LAC:
                allow(tok.value_codec.value_range, here, one, limit, "lac_len")  # type: ignore[attr-defined]
            elif kind == VALUE:
                nv = tok.value_codec.num_values  # type: ignore[attr-defined]
                allow(tok.value_codec.value_range, here, one, torch.full_like(one, nv), "plus1")  # type: ignore[attr-defined]
            elif kind == BAC_VALUE:
                allow("bac_classes", here, 0 * one, torch.full_like(one, tok.num_classes))
            elif kind == DIFF_VALUE:
                allow("diff_classes", here, 0 * one, s.value - 1)
                allow("diff_classes", here, s.value + 1, torch.full_like(one, tok.num_classes))

        if self.grouped:
            closing = at_boundary & (s.group_runs > 0)
            c_lo = (
                s.last_class + 1 if isinstance(tok, ClassWiseTokenizer) and self.monotonic else torch.ones_like(s.pos)
            )
            allow("classes", closing, c_lo, torch.full_like(c_lo, tok.num_classes), "plus1")
            if "stuff" in self.vocab:
                allow("stuff", closing, torch.ones_like(c_lo), torch.full_like(c_lo, tok.num_classes), "plus1")
            out[:, EOS] = at_boundary & (s.group_runs == 0)
        else:
            out[:, EOS] = at_boundary
        out[:, PAD] = s.done
        return out

    # ----- advancing ----------------------------------------------------------------------------------
    def step(self, s: GrammarState, tokens: torch.Tensor) -> GrammarState:
        """Advance every sequence by one written token ``(B,)``; returns the updated state (in place).

        A leading task prompt is skipped; after EOS (or PAD) a sequence stays done.
        """
        t = tokens.to(device=self.device, dtype=torch.long).reshape(-1)
        skip = s.done | ((t == PROMPT) & (s.pos == 0))
        live = ~skip
        ending = live & ((t == EOS) | (t == PAD))
        s.done = s.done | ending
        live = live & ~ending
        ll, tok = self.line_len, self.tok
        phase = s.phase.clone()
        advance = torch.zeros_like(live)
        for i, kind in enumerate(self.program):
            here = live & (phase == i)
            if not bool(here.any()):
                continue
            advance |= here
            if kind == START:
                st = t - self.vocab["starts"].start
                s.start = torch.where(here, st, s.start)
                if isinstance(tok, DiffTokenizer):
                    s.cursor = torch.where(here, st + 1, s.cursor)
            elif kind == LINE:
                s.line = torch.where(here, t - self.vocab["coords"].start, s.line)
            elif kind == OFFSET:
                st = s.line * ll + (t - self.vocab["coords"].start)
                s.start = torch.where(here, st, s.start)
                if isinstance(tok, DiffTokenizer):
                    s.cursor = torch.where(here, st + 1, s.cursor)
            elif kind in (LENGTH, LAC):
                r = self.vocab["lengths"] if kind == LENGTH else self.vocab[tok.value_codec.value_range]  # type: ignore[attr-defined]
                length = (t - r.start) % ll + 1 if kind == LAC else t - r.start + 1
                s.cursor = torch.where(here, s.start + length, s.cursor)
            elif kind in (BAC_LEN, BAC_LAC):
                r = self.vocab["lengths" if kind == BAC_LEN else "bac_lac"]
                length = (t - r.start) % ll + 1
                s.start = torch.where(here, s.cursor, s.start)
                s.cursor = torch.where(here, s.cursor + length, s.cursor)
            elif kind == DIFF_VALUE:
                s.value = torch.where(here, t - self.vocab["diff_classes"].start, s.value)
        at_boundary = live & (phase == 0)
        if self.grouped:
            closing = at_boundary & self._is_terminator(t)
            s.group_runs = torch.where(closing, torch.zeros_like(s.group_runs), s.group_runs)
            s.cursor = torch.where(closing, torch.zeros_like(s.cursor), s.cursor)
            if isinstance(tok, ClassWiseTokenizer):
                s.last_class = torch.where(closing, t - self.vocab["classes"].start + 1, s.last_class)
            advance &= ~closing
        finished_run = advance & (phase == self.k - 1)
        if isinstance(tok, DiffTokenizer) and tok.binary:
            s.value = torch.where(finished_run, 1 - s.value, s.value)
        s.group_runs = s.group_runs + finished_run.long()
        s.phase = torch.where(advance, (phase + 1) % self.k, phase)
        s.pos = s.pos + (~skip).long()
        return s

    def _is_terminator(self, t: torch.Tensor) -> torch.Tensor:
        r = self.vocab["classes"]
        term = (t >= r.start) & (t < r.stop)
        if "stuff" in self.vocab:
            st = self.vocab["stuff"]
            term |= (t >= st.start) & (t < st.stop)
        return term

    def allowed_next(self, prefixes: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` prefixes (optionally starting with the prompt) -> ``(B, V)`` allowed next tokens."""
        p = prefixes.to(self.device)
        state = self.init_state(p.shape[0])
        for j in range(p.shape[1]):
            state = self.step(state, p[:, j])
        return self.allowed(state)


def make_grammar(tok: Tokenizer, *, max_len: int | None = None, device: torch.device | str | None = None) -> Grammar:
    """The constrained-decoding grammar of ``tok``; ``max_len`` (default ``tok.max_len``) includes EOS."""
    if not isinstance(tok, (FlatRLETokenizer, GroupedRLETokenizer, BACTokenizer, DiffTokenizer)):
        raise ValueError(f"no grammar for tokenizer {tok.name!r}")
    return Grammar(tok, max_len=max_len, device=device)
