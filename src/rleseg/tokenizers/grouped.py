"""Schemes that write binary runs in groups, each group closed by a class token: ``cw`` and ``iw``.

``cw`` (class-wise, paper IV-C): one group per class present, its binary runs then the class token.
``iw`` (instance-wise, paper IV-D): one group per instance, its binary runs then the instance's class
token; pixels of a class that belong to no instance ("stuff") form one group per class closed by a
``stuff`` token, so decoding gives back both the class mask and the partition into instances.
Groups come in the order of their first pixel; runs inside a group in raster order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from rleseg.tokenizers.base import DecodeInfo, Tokenizer, check_choice, check_label_array
from rleseg.tokenizers.codecs import StartCodec, ValueCodec
from rleseg.tokenizers.flat import mask_dtype
from rleseg.tokenizers.grouping import interleave, order_groups, pair_runs, truncate_groups
from rleseg.tokenizers.parsing import parse_tuples, range_ids
from rleseg.tokenizers.runs import Flattening, extract_runs, flattening_2d, flattening_video, paint_labels


class GroupedRLETokenizer(Tokenizer):
    """Shared machinery: groups of (start, length) runs, each closed by one terminator token."""

    tokens_per_run_hint = 2

    def __init__(
        self,
        mask_size: int | tuple[int, int],
        num_classes: int = 1,
        *,
        num_frames: int = 1,
        order: str = "row",
        starts: str = "1d",
        run_order: str = "raster",
        seed: int | None = 0,
        max_len: int | None = None,
    ) -> None:
        super().__init__(mask_size, num_classes, num_frames=num_frames, run_order=run_order, seed=seed, max_len=max_len)
        check_choice("order", order, ("row", "col"))
        self.order = order
        self.starts = starts
        self.flattening = self._make_flattening()
        self.start_codec = StartCodec(self.flattening, starts)
        self.value_codec = ValueCodec("length", self.flattening.line_len, 1)
        self.check_budget()

    @classmethod
    def _supports_frames(cls) -> bool:
        return True

    def _make_flattening(self) -> Flattening:
        if self.num_frames > 1:
            return flattening_video((self.num_frames, self.height, self.width), "c", self.order)
        return flattening_2d((self.height, self.width), self.order)

    @property
    def tokens_per_run(self) -> int:
        """Tokens of one (start, length) run."""
        return self.start_codec.width + 1

    @property
    def min_tokens_per_run(self) -> int:
        return self.tokens_per_run + 1  # one run and its group's terminator

    @property
    def terminator_ranges(self) -> tuple[str, ...]:
        """Names of the ranges whose tokens close a group."""
        return ("classes",)

    def layout(self) -> list[tuple[str, int]]:
        return self.start_codec.layout() + self.value_codec.layout() + [("classes", self.num_classes)]

    # ----- encoding -----------------------------------------------------------------------------------
    group_order: str = "first_pixel"

    def _encode_groups(
        self,
        starts: np.ndarray,
        lengths: np.ndarray,
        labels: np.ndarray,
        terminators: np.ndarray,
        rng: np.random.Generator | None,
    ) -> tuple[np.ndarray, int]:
        """Runs grouped by label -> ``(body tokens, number of runs)``.

        ``starts``, ``lengths``, ``labels`` (group of each run), ``terminators`` (token closing the run's
        group, the same for all runs of a group): ``(R,)`` in increasing start order. Groups are ordered
        by label (``group_order = "key"``) or by their first pixel; runs in raster order inside a group.
        With ``rng`` both the groups and the runs inside each group are shuffled.
        """
        if starts.size == 0:
            return np.zeros(0, dtype=np.int64), 0
        order, counts, heads = order_groups(labels, self.group_order == "first_pixel", rng)
        starts, lengths = starts.take(order), lengths.take(order)
        lens = self.value_codec.encode(lengths, lengths, self.vocab)  # "length" mode reads no values
        rows = np.concatenate([self.start_codec.encode(starts, self.vocab), lens], axis=1)
        return interleave(rows, counts, terminators.take(heads)), int(starts.size)

    def _truncate(self, body: np.ndarray, budget: int, mask: Any) -> tuple[np.ndarray, int]:
        is_term = np.zeros(body.size, dtype=np.bool_)
        for name in self.terminator_ranges:
            is_term |= self.vocab[name].contains(body)
        return truncate_groups(body, is_term, self.tokens_per_run, budget)

    # ----- decoding -----------------------------------------------------------------------------------
    def _decode_groups(self, body: np.ndarray, info: DecodeInfo) -> _GroupRuns:
        """Body -> the valid runs of every kept group and the group's terminator token.

        A well-formed body (every group one or more whole runs in range, then its terminator) is decoded
        with a fixed number of numpy calls; anything else group by group: runs after the last terminator are
        dropped (``unterminated_group``), a terminator whose group has no valid run too (``empty_group``).
        """
        roles = self.vocab.range_of(body)
        is_term = self._terminator_role.take(roles + 1)  # roles of -1 (not a token) map to False
        groups = self._well_formed_groups(body, roles, is_term)
        if groups is None:
            groups = self._parse_groups(body, roles, is_term, info)
        info.num_runs = int(groups.starts.size)
        return groups

    @cached_property
    def _terminator_role(self) -> np.ndarray:
        """``(1 + number of ranges,)`` bool: whether range index ``i - 1`` closes a group (index 0: -1)."""
        table = np.zeros(len(self.vocab.names) + 1, dtype=np.bool_)
        table[range_ids(self.vocab, self.terminator_ranges) + 1] = True
        return table

    @cached_property
    def _run_pattern(self) -> np.ndarray:
        """Range index of each token of a run; ``(tokens_per_run,)``."""
        return range_ids(self.vocab, self.start_codec.range_names + self.value_codec.range_names)

    def _decode_runs(self, tuples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run tuples ``(R, k)`` -> ``(starts, lengths, valid)``, each ``(R,)``; valid: inside its line."""
        w = self.start_codec.width
        starts, offsets, valid = self.start_codec.decode(tuples[:, :w], self.vocab)
        lengths, _ = self.value_codec.decode(tuples[:, w:], self.vocab)
        valid &= offsets + lengths <= self.flattening.line_len
        return starts, lengths, valid

    def _well_formed_groups(self, body: np.ndarray, roles: np.ndarray, is_term: np.ndarray) -> _GroupRuns | None:
        """The groups of ``body`` ``(T,)`` (token ranges ``roles``, terminators ``is_term``, both ``(T,)``) when
        it is well formed and every run lies inside its line; None otherwise (nothing would be dropped)."""
        k = self.tokens_per_run
        term_pos = np.flatnonzero(is_term)
        if term_pos.size == 0 or term_pos[-1] != body.size - 1:
            return None
        run_tokens = term_pos.copy()  # (G,) tokens before each terminator
        run_tokens[1:] -= term_pos[:-1] + 1
        if run_tokens.min() <= 0 or np.any(run_tokens % k):
            return None
        is_run = ~is_term
        run_roles = roles[is_run].reshape(-1, k)
        if not (run_roles == self._run_pattern).all():
            return None
        starts, lengths, valid = self._decode_runs(body[is_run].reshape(-1, k))
        if not valid.all():
            return None
        return _GroupRuns(starts, lengths, run_tokens // k, body[term_pos])

    def _parse_groups(self, body: np.ndarray, roles: np.ndarray, is_term: np.ndarray, info: DecodeInfo) -> _GroupRuns:
        """The per-group path of :meth:`_decode_groups` for malformed bodies; records what it drops."""
        pattern = self._run_pattern
        starts: list[np.ndarray] = []
        lengths: list[np.ndarray] = []
        counts: list[int] = []
        terms: list[int] = []
        prev = 0
        for pos in np.flatnonzero(is_term).tolist():
            tuples = parse_tuples(body[prev:pos], roles[prev:pos], pattern, info)
            s, ln, valid = self._decode_runs(tuples)
            info.drop("run_out_of_bounds", int((~valid).sum()) * self.tokens_per_run)
            if valid.any():
                starts.append(s[valid])
                lengths.append(ln[valid])
                counts.append(int(valid.sum()))
                terms.append(int(body[pos]))
            else:
                info.drop("empty_group")
            prev = pos + 1
        info.drop("unterminated_group", body.size - prev)
        if not terms:
            empty = np.zeros(0, dtype=np.int64)
            return _GroupRuns(empty, empty, empty, empty)
        return _GroupRuns(
            np.concatenate(starts), np.concatenate(lengths), np.array(counts, np.int64), np.array(terms, np.int64)
        )

    def _paint_groups(self, groups: _GroupRuns, values: np.ndarray, dtype: np.dtype, info: DecodeInfo) -> np.ndarray:
        """Paint each group's runs with its value (``values``: ``(G,)``); returns the label array of the
        flattening's shape."""
        vals = np.repeat(np.asarray(values, dtype=np.int64), groups.counts)
        labels, overlaps = paint_labels(self.flattening, groups.starts, groups.lengths, vals, dtype)
        info.overlaps += overlaps
        return labels


@dataclass(frozen=True)
class _GroupRuns:
    """Decoded groups: ``starts`` and ``lengths`` ``(R,)`` of their runs, group after group; ``counts``
    ``(G,)`` runs per group (each >= 1) and ``terms`` ``(G,)`` the token that closed each group."""

    starts: np.ndarray
    lengths: np.ndarray
    counts: np.ndarray
    terms: np.ndarray


class ClassWiseTokenizer(GroupedRLETokenizer):
    """``cw``: per class present, in increasing class order, its binary (start, length) runs closed by the
    class token [IV-C]."""

    name = "cw"
    group_order = "key"

    def _validate(self, mask: Any) -> np.ndarray:
        return check_label_array(mask, self.mask_shape, self.num_classes, "mask", self.name)

    def _encode_body(self, mask: np.ndarray, rng: np.random.Generator | None) -> tuple[np.ndarray, int]:
        starts, lengths, values = extract_runs(self.flattening.flatten(mask), self.flattening.line_len)
        return self._encode_groups(starts, lengths, values, values + (self.vocab["classes"].start - 1), rng)

    def _decode_body(self, body: np.ndarray, info: DecodeInfo) -> np.ndarray:
        groups = self._decode_groups(body, info)
        classes = groups.terms - (self.vocab["classes"].start - 1)
        return self._paint_groups(groups, classes, mask_dtype(self.num_classes), info)


class InstanceWiseTokenizer(GroupedRLETokenizer):
    """``iw``: per instance, its binary runs closed by its class token; stuff pixels per class closed by a
    stuff token [IV-D]. Takes and returns ``(mask, instances)``; instance ids come back as 1, 2, ...
    in the order of each instance's first pixel."""

    name = "iw"
    instance_aware = True

    @property
    def terminator_ranges(self) -> tuple[str, ...]:
        return ("classes", "stuff")

    def layout(self) -> list[tuple[str, int]]:
        return super().layout() + [("stuff", self.num_classes)]

    def _validate(self, mask: Any) -> _InstanceRuns:
        if not (isinstance(mask, (tuple, list)) and len(mask) == 2):
            raise ValueError(
                f"iw: encode takes (mask, instances), two integer arrays of shape {self.mask_shape}; "
                f"got {type(mask).__name__}"
            )
        classes = check_label_array(mask[0], self.mask_shape, self.num_classes, "mask", self.name)
        instances = check_label_array(mask[1], self.mask_shape, np.iinfo(np.int64).max, "instances", self.name)
        f = self.flattening
        # runs over which both the class and the instance are constant: the checks below look at runs only
        starts, lengths, cls, inst = pair_runs(f.flatten(classes), f.flatten(instances), f.line_len)
        # group label: -c for the stuff of class c, the instance id for an instance (no overflow, no clash)
        labels = np.where(inst > 0, inst, -cls)
        if (cls.size and not cls.all()) or _split_instance(labels, cls):
            _raise_invalid(classes, instances, self.num_classes)
        return _InstanceRuns(starts, lengths, cls, inst, labels)

    def _encode_body(self, mask: _InstanceRuns, rng: np.random.Generator | None) -> tuple[np.ndarray, int]:
        base = np.where(mask.inst > 0, self.vocab["classes"].start - 1, self.vocab["stuff"].start - 1)
        return self._encode_groups(mask.starts, mask.lengths, mask.labels, base + mask.cls, rng)

    def _decode_body(self, body: np.ndarray, info: DecodeInfo) -> tuple[np.ndarray, np.ndarray]:
        groups = self._decode_groups(body, info)
        stuff = np.asarray(self.vocab["stuff"].contains(groups.terms))  # (G,) stuff groups; others: instances
        first = np.where(stuff, self.vocab["stuff"].start, self.vocab["classes"].start)
        class_vals = groups.terms - first + 1
        inst_vals = np.where(stuff, 0, np.cumsum(~stuff))  # instances numbered 1, 2, ... in group order
        # paint group numbers once (1..G, later groups win), then look up both values of each pixel's group
        group = self._paint_groups(groups, np.arange(1, groups.counts.size + 1), np.dtype(np.int32), info)
        classes = np.concatenate([[0], class_vals]).astype(mask_dtype(self.num_classes)).take(group)
        instances = np.concatenate([[0], inst_vals]).astype(np.int32).take(group)
        return classes, instances


@dataclass(frozen=True)
class _InstanceRuns:
    """A validated ``iw`` input as runs, ``(R,)`` int64 each, in increasing start order: the pixels of a
    run share one class ``cls`` (>= 1) and one instance ``inst`` (0: stuff); ``labels`` names the run's
    group (the instance id, or minus the class for stuff)."""

    starts: np.ndarray
    lengths: np.ndarray
    cls: np.ndarray
    inst: np.ndarray
    labels: np.ndarray


def _split_instance(labels: np.ndarray, cls: np.ndarray) -> bool:
    """Whether runs of one label (``(R,)``) carry different classes (``(R,)``)."""
    if labels.size < 2:
        return False
    order = np.argsort(labels, kind="stable")
    lab, c = labels.take(order), cls.take(order)
    return bool(np.any((lab[1:] == lab[:-1]) & (c[1:] != c[:-1])))


def _raise_invalid(classes: np.ndarray, instances: np.ndarray, num_classes: int) -> None:
    """Raise the ValueError naming the first instance (in the arrays' C order) that covers background, else
    the instance of smallest id that spans several classes. Only called once such an instance was found."""
    inst = instances.astype(np.int64, copy=False)
    cls = classes.astype(np.int64, copy=False)
    on_bg = (inst > 0) & (cls == 0)
    if on_bg.any():
        bad = int(inst[on_bg][0])
        raise ValueError(f"iw: instance {bad} covers background pixels (class 0); every instance needs a class")
    fg = inst > 0
    pairs = np.unique(np.stack([inst[fg], cls[fg]]), axis=1)  # (2, P) sorted by instance, then class
    dup = pairs[0, np.flatnonzero(np.diff(pairs[0]) == 0)[0]]
    found = sorted(pairs[1, pairs[0] == dup].tolist())
    raise ValueError(f"iw: instance {int(dup)} has pixels of several classes {found}; expected one")
