"""A mask's tokenization replayed step by step, from the tokenizer's own output.

:func:`trace_tokenization` encodes the mask with the real tokenizer, cuts the token sequence into steps (one
run, one group terminator, one change point ...) and, after every step, decodes the tokens written so far
with the tokenizer's own :meth:`~rleseg.tokenizers.Tokenizer.decode`. So each step's mask is exactly what
those tokens say, for every scheme:

- fixed-tuple schemes (``binary``, ``multiclass``, ``lac``, ``3d-c``, ``3d-f``, ``tac``, ``ltac``): one step
  per run tuple; the run's pixels are those the tuple paints (for TAC, its location in every frame);
- grouped schemes (``cw``, ``iw``): one step per run, whose pixels are *pending* until the group's class
  token closes the group (the group's terminator is known from the full sequence, so a pending run is
  shown by decoding the prefix closed by it); then one step for the terminator, which commits the group;
- ``bac``: one step per (length, class) run, background runs included: the run spans the cursor's advance;
- ``diff``: one step per change point; the segment it closes (since the previous change) becomes known.

The last step is EOS; its mask is the full decoding, checked equal to the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from rleseg.tokenizers.base import Tokenizer
from rleseg.tokenizers.cumulative import BACTokenizer, DiffTokenizer
from rleseg.tokenizers.flat import FlatRLETokenizer
from rleseg.tokenizers.grouped import GroupedRLETokenizer
from rleseg.tokenizers.parsing import range_ids
from rleseg.tokenizers.vocab import EOS

StepKind = Literal["start", "run", "background", "pending", "group", "eos"]


@dataclass(frozen=True)
class TraceStep:
    """The state after one step of the tokenization.

    ``start:stop``: the tokens this step adds (``start == stop`` for the initial empty step).
    ``mask``: class mask decoded from ``tokens[:stop]`` (committed runs only), :attr:`Tokenizer.mask_shape`.
    ``instances``: instance ids decoded alongside (``iw`` only; ids 1, 2 ... in order of first pixel).
    ``pending``: bool, pixels of runs already written whose group is still open (``cw``/``iw``).
    ``current``: bool, the pixels this step defines (the run, the group it closes, the segment it ends).
    ``commit``: index of the step that commits this step's pixels (the group's terminator for a pending run).
    """

    start: int
    stop: int
    kind: StepKind
    mask: np.ndarray
    instances: np.ndarray | None
    pending: np.ndarray
    current: np.ndarray
    commit: int


@dataclass(frozen=True)
class TokenizationTrace:
    """A tokenizer, the mask it encoded, the tokens (``(T,)``, EOS last) and the steps, first the empty one."""

    tokenizer: Tokenizer
    mask: np.ndarray
    instances: np.ndarray | None
    tokens: np.ndarray
    steps: list[TraceStep]

    @property
    def num_runs(self) -> int:
        """Steps that paint foreground (runs of ``bac`` background and ``diff`` background segments excluded)."""
        return sum(s.kind in ("run", "pending") for s in self.steps)


def trace_tokenization(tok: Tokenizer, mask: np.ndarray, instances: np.ndarray | None = None) -> TokenizationTrace:
    """Encode ``mask`` (``tok.mask_shape``; with ``instances`` for ``iw``) and replay it step by step.

    Raises ValueError for input the tokenizer rejects (its message), for a tokenizer with a length budget
    that cuts the sequence, and RuntimeError if the final decoding differs from the input (a tokenizer bug).
    """
    if tok.instance_aware:
        if instances is None:
            raise ValueError(f"{tok.name} encodes (mask, instances): give the instance ids too")
        tokens, info = tok.encode((mask, instances), return_info=True)
    else:
        if instances is not None:
            raise ValueError(f"{tok.name} does not use instance ids; leave instances out")
        tokens, info = tok.encode(mask, return_info=True)
    if info.truncated:
        raise ValueError(
            f"{tok.name}: max_len={tok.max_len} cut {info.runs_cut} of {info.num_runs} runs; "
            "trace a tokenizer without a length budget"
        )
    tracer = _tracer(tok)
    steps = tracer(tok, tokens)
    trace = TokenizationTrace(
        tok, np.asarray(mask), None if instances is None else np.asarray(instances), tokens, steps
    )
    _check_final(trace)
    return trace


# ----- helpers shared by the tracers ----------------------------------------------------------------------
def _decode(tok: Tokenizer, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    out: Any = tok.decode(tokens)
    if tok.instance_aware:
        return np.asarray(out[0]), np.asarray(out[1])
    return np.asarray(out), None


def _empty(tok: Tokenizer) -> np.ndarray:
    return np.zeros(tok.mask_shape, dtype=np.bool_)


def _first_step(tok: Tokenizer) -> TraceStep:
    mask, inst = _decode(tok, np.zeros(0, dtype=np.int64))
    return TraceStep(0, 0, "start", mask, inst, _empty(tok), _empty(tok), 0)


def _eos_step(tok: Tokenizer, tokens: np.ndarray, index: int, current: np.ndarray | None = None) -> TraceStep:
    mask, inst = _decode(tok, tokens)
    cur = _empty(tok) if current is None else current
    return TraceStep(tokens.size - 1, tokens.size, "eos", mask, inst, _empty(tok), cur, index)


def _flat_positions(tok: Tokenizer) -> np.ndarray:
    """Position of every pixel in the tokenizer's flattened order; ``tok.mask_shape`` int64."""
    f = tok.flattening  # type: ignore[attr-defined]
    return np.asarray(f.unflatten(np.arange(f.size, dtype=np.int64)))


# ----- one tracer per scheme family -----------------------------------------------------------------------
def _trace_flat(tok: Tokenizer, tokens: np.ndarray) -> list[TraceStep]:
    assert isinstance(tok, FlatRLETokenizer)
    k = tok.tokens_per_run
    body = tokens.size - 1
    steps = [_first_step(tok)]
    tac = tok.name in ("tac", "ltac")
    prev = steps[0].mask
    for start in range(0, body, k):
        mask, _ = _decode(tok, tokens[: start + k])
        changed = mask != prev
        if tac:  # a TAC run is a location in every frame, background frames included
            changed = np.broadcast_to(changed.any(axis=0), changed.shape).copy()
        steps.append(TraceStep(start, start + k, "run", mask, None, _empty(tok), changed, len(steps)))
        prev = mask
    steps.append(_eos_step(tok, tokens, len(steps)))
    return steps


def _trace_grouped(tok: Tokenizer, tokens: np.ndarray) -> list[TraceStep]:
    assert isinstance(tok, GroupedRLETokenizer)
    body = tokens[:-1]
    roles = tok.vocab.range_of(body)
    is_term = np.isin(roles, range_ids(tok.vocab, tok.terminator_ranges))
    term_pos = np.flatnonzero(is_term)
    k = tok.tokens_per_run
    steps = [_first_step(tok)]
    committed, committed_inst = steps[0].mask, steps[0].instances
    pending = _empty(tok)
    group_steps: list[int] = []  # indices of the open group's run steps
    pos = 0
    while pos < body.size:
        if is_term[pos]:
            mask, inst = _decode(tok, body[: pos + 1])
            index = len(steps)
            for i in group_steps:  # the runs of this group are committed by this terminator
                steps[i] = _with_commit(steps[i], index)
            steps.append(TraceStep(pos, pos + 1, "group", mask, inst, _empty(tok), pending, index))
            committed, committed_inst, pending, group_steps = mask, inst, _empty(tok), []
            pos += 1
            continue
        closing = body[term_pos[term_pos > pos][0]]
        provisional, prov_inst = _decode(tok, np.append(body[: pos + k], closing))
        now = provisional != committed
        if prov_inst is not None and committed_inst is not None:
            now |= prov_inst != committed_inst
        current = now & ~pending
        group_steps.append(len(steps))
        steps.append(TraceStep(pos, pos + k, "pending", committed, committed_inst, now, current, -1))
        pending = now
        pos += k
    steps.append(_eos_step(tok, tokens, len(steps)))
    return steps


def _with_commit(step: TraceStep, commit: int) -> TraceStep:
    return TraceStep(step.start, step.stop, step.kind, step.mask, step.instances, step.pending, step.current, commit)


def _trace_bac(tok: Tokenizer, tokens: np.ndarray) -> list[TraceStep]:
    assert isinstance(tok, BACTokenizer)
    k = tok.tokens_per_run
    line_len = tok.flattening.line_len
    where = _flat_positions(tok)
    steps = [_first_step(tok)]
    cursor = 0
    for start in range(0, tokens.size - 1, k):
        if tok.classes == "token":
            length = int(tokens[start]) - tok.vocab["lengths"].start + 1
        else:
            length = (int(tokens[start]) - tok.vocab["bac_lac"].start) % line_len + 1
        mask, _ = _decode(tok, tokens[: start + k])
        current = (where >= cursor) & (where < cursor + length)
        kind: StepKind = "run" if bool(mask[current].any()) else "background"
        steps.append(TraceStep(start, start + k, kind, mask, None, _empty(tok), current, len(steps)))
        cursor += length
    steps.append(_eos_step(tok, tokens, len(steps), where >= cursor))  # the implicit trailing background
    return steps


def _trace_diff(tok: Tokenizer, tokens: np.ndarray) -> list[TraceStep]:
    assert isinstance(tok, DiffTokenizer)
    k = tok.tokens_per_change
    w = tok.start_codec.width
    where = _flat_positions(tok)
    steps = [_first_step(tok)]
    last = 0
    for start in range(0, tokens.size - 1, k):
        starts, _, _ = tok.start_codec.decode(tokens[start : start + w].reshape(1, w), tok.vocab)
        pos = int(starts[0])
        decoded, _ = _decode(tok, tokens[: start + k])
        known = where < pos  # the decoding paints the new value up to the end; only [0, pos) is settled
        mask = np.where(known, decoded, 0).astype(decoded.dtype)
        current = (where >= last) & known
        kind: StepKind = "run" if bool(mask[current].any()) else "background"
        steps.append(TraceStep(start, start + k, kind, mask, None, _empty(tok), current, len(steps)))
        last = pos
    steps.append(_eos_step(tok, tokens, len(steps), where >= last))
    return steps


def _tracer(tok: Tokenizer) -> Any:
    if isinstance(tok, FlatRLETokenizer):
        return _trace_flat
    if isinstance(tok, GroupedRLETokenizer):
        return _trace_grouped
    if isinstance(tok, BACTokenizer):
        return _trace_bac
    if isinstance(tok, DiffTokenizer):
        return _trace_diff
    raise ValueError(f"no step-by-step replay for scheme {tok.name!r} ({type(tok).__name__})")


def _check_final(trace: TokenizationTrace) -> None:
    """The EOS step must give back the input: class mask equal, instances equal up to renumbering."""
    final = trace.steps[-1]
    if trace.tokens[-1] != EOS or final.kind != "eos":
        raise RuntimeError(f"{trace.tokenizer.name}: the token sequence does not end with EOS")
    if not np.array_equal(final.mask, trace.mask):
        raise RuntimeError(f"{trace.tokenizer.name}: decoding the tokens does not give back the mask")
    if trace.instances is not None and final.instances is not None:
        if not same_partition(final.instances, trace.instances):
            raise RuntimeError(f"{trace.tokenizer.name}: decoding the tokens does not give back the instances")


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """True when instance maps ``a`` and ``b`` (same shape, 0 = none) differ only by the ids' numbering."""
    if a.shape != b.shape or not np.array_equal(a == 0, b == 0):
        return False
    pairs = np.unique(np.stack([a.reshape(-1), b.reshape(-1)]), axis=1)
    return np.unique(pairs[0]).size == pairs.shape[1] == np.unique(pairs[1]).size
