"""The vectorised ``cw`` / ``iw`` encoders give exactly the tokens of a straightforward loop version.

The reference below is the former implementation (runs of one key array grouped with a Python loop per
group, instances compacted with ``np.unique``, truncation walking the groups one by one), kept here as
subclasses that override only encoding. Both are compared token for token, on seeded random masks
(every conftest mask kind, static and 2-frame), for both orders, both start codings, raster and random run
order (same seed, so the same shuffles) and several budgets, plus the error messages of invalid input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.conftest import MASK_KINDS, make_instances, make_mask, scheme_options

from rleseg.tokenizers import create_tokenizer
from rleseg.tokenizers.base import check_label_array
from rleseg.tokenizers.grouped import ClassWiseTokenizer, GroupedRLETokenizer, InstanceWiseTokenizer
from rleseg.tokenizers.runs import extract_runs


class _ReferenceGrouped(GroupedRLETokenizer):
    def _group_runs(self, keys: np.ndarray, rng: np.random.Generator | None) -> tuple[list[np.ndarray], np.ndarray]:
        starts, lengths, values = extract_runs(self.flattening.flatten(keys), self.flattening.line_len)
        if starts.size == 0:
            return [], np.zeros(0, dtype=np.int64)
        cols = np.concatenate(
            [self.start_codec.encode(starts, self.vocab), self.value_codec.encode(lengths, values, self.vocab)],
            axis=1,
        )
        group_keys, first = np.unique(values, return_index=True)
        if self.group_order == "first_pixel":
            group_keys = group_keys[np.argsort(first, kind="stable")]
        order = np.argsort(values, kind="stable")
        sorted_vals = values[order]
        bounds = np.searchsorted(sorted_vals, group_keys, side="left")
        ends = np.searchsorted(sorted_vals, group_keys, side="right")
        blocks = [cols[order[b:e]] for b, e in zip(bounds.tolist(), ends.tolist(), strict=True)]
        if rng is not None:
            perm = rng.permutation(len(blocks))
            blocks = [blocks[i][rng.permutation(len(blocks[i]))] for i in perm]
            group_keys = group_keys[perm]
        return blocks, group_keys

    def _assemble(self, blocks: list[np.ndarray], terminators: np.ndarray) -> tuple[np.ndarray, int]:
        if not blocks:
            return np.zeros(0, dtype=np.int64), 0
        parts: list[np.ndarray] = []
        for block, term in zip(blocks, terminators.tolist(), strict=True):
            parts.append(block.reshape(-1))
            parts.append(np.array([term], dtype=np.int64))
        return np.concatenate(parts).astype(np.int64, copy=False), sum(len(b) for b in blocks)

    def _truncate(self, body: np.ndarray, budget: int, mask: Any) -> tuple[np.ndarray, int]:
        k = self.tokens_per_run
        is_term = np.zeros(body.size, dtype=np.bool_)
        for name in self.terminator_ranges:
            is_term |= self.vocab[name].contains(body)
        kept: list[np.ndarray] = []
        used = runs = 0
        prev = 0
        for pos in np.flatnonzero(is_term).tolist():
            n_runs = (pos - prev) // k
            if used + pos - prev + 1 <= budget:
                kept.append(body[prev : pos + 1])
                used += pos - prev + 1
                runs += n_runs
            else:
                fit = (budget - used - 1) // k
                if fit >= 1:
                    kept.append(body[prev : prev + fit * k])
                    kept.append(body[pos : pos + 1])
                    runs += fit
                break
            prev = pos + 1
        out = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
        return out, runs


class ReferenceCW(_ReferenceGrouped, ClassWiseTokenizer):
    def _validate(self, mask: Any) -> np.ndarray:
        return check_label_array(mask, self.mask_shape, self.num_classes, "mask", self.name)

    def _encode_body(self, mask: Any, rng: np.random.Generator | None) -> tuple[np.ndarray, int]:
        blocks, keys = self._group_runs(mask, rng)
        return self._assemble(blocks, keys - 1 + self.vocab["classes"].start)


class ReferenceIW(_ReferenceGrouped, InstanceWiseTokenizer):
    def _validate(self, mask: Any) -> tuple[np.ndarray, np.ndarray]:
        if not (isinstance(mask, (tuple, list)) and len(mask) == 2):
            raise ValueError(
                f"iw: encode takes (mask, instances), two integer arrays of shape {self.mask_shape}; "
                f"got {type(mask).__name__}"
            )
        classes = check_label_array(mask[0], self.mask_shape, self.num_classes, "mask", self.name)
        instances = check_label_array(mask[1], self.mask_shape, np.iinfo(np.int64).max, "instances", self.name)
        inst = instances.astype(np.int64, copy=False)
        cls = classes.astype(np.int64, copy=False)
        on_bg = (inst > 0) & (cls == 0)
        if on_bg.any():
            bad = int(inst[on_bg][0])
            raise ValueError(f"iw: instance {bad} covers background pixels (class 0); every instance needs a class")
        ids, compact = np.unique(inst, return_inverse=True)
        if ids[0] != 0:
            ids = np.concatenate([[0], ids])
            compact = compact + 1
        compact = compact.reshape(inst.shape)
        fg = compact > 0
        if fg.any():
            pairs = np.unique(compact[fg] * (self.num_classes + 1) + cls[fg])
            inst_of_pair = pairs // (self.num_classes + 1)
            if np.unique(inst_of_pair).size != pairs.size:
                dup = inst_of_pair[np.flatnonzero(np.diff(inst_of_pair) == 0)[0]]
                found = sorted((pairs[inst_of_pair == dup] % (self.num_classes + 1)).tolist())
                raise ValueError(f"iw: instance {int(ids[dup])} has pixels of several classes {found}; expected one")
        return classes, compact

    def _encode_body(self, mask: Any, rng: np.random.Generator | None) -> tuple[np.ndarray, int]:
        classes, instances = mask
        cls = classes.astype(np.int64, copy=False)
        inst = instances.astype(np.int64, copy=False)
        keys = np.where(inst > 0, inst + self.num_classes + 1, cls)
        blocks, group_keys = self._group_runs(keys, rng)
        flat_cls = self.flattening.flatten(cls)
        terms = np.empty(group_keys.size, dtype=np.int64)
        for g, (key, block) in enumerate(zip(group_keys.tolist(), blocks, strict=True)):
            if key <= self.num_classes:
                terms[g] = self.vocab["stuff"].start + key - 1
            else:
                first_start, _, _ = self.start_codec.decode(block[:1, : self.start_codec.width], self.vocab)
                terms[g] = self.vocab["classes"].start + int(flat_cls[first_start[0]]) - 1
        return self._assemble(blocks, terms)


REFERENCE = {"cw": ReferenceCW, "iw": ReferenceIW}


def _inputs(name: str, shape: tuple[int, ...], num_classes: int, rng: np.random.Generator) -> list[Any]:
    """One input per mask kind (iw: with random instances, and once with no instance at all)."""
    out: list[Any] = []
    for kind in MASK_KINDS:
        mask = make_mask(shape, num_classes, kind, rng)
        if name == "iw":
            out.append((mask, make_instances(mask, num_classes, rng)))
            if kind == "blobby":
                out.append((mask.astype(np.uint8), np.zeros(shape, dtype=np.int32)))
        else:
            out.append(mask)
    return out


@pytest.mark.parametrize("name", ["cw", "iw"])
@pytest.mark.parametrize("frames", [1, 2])
def test_same_tokens_as_reference(name: str, frames: int) -> None:
    rng = np.random.default_rng(1234 + frames)
    checked = 0
    for trial in range(12):
        h, w = (int(v) for v in rng.integers(1, 14, size=2))
        num_classes = int(rng.choice([1, 2, 3, 5]))
        shape = (frames, h, w) if frames > 1 else (h, w)
        inputs = _inputs(name, shape, num_classes, rng)
        for opts in scheme_options(name):
            kw = dict(opts, mask_size=(h, w), num_classes=num_classes, seed=trial)
            if frames > 1:
                kw["num_frames"] = frames
            for max_len in (None, 4, 5, 7, 12, 30):
                if max_len is not None and max_len < (4 if opts["starts"] == "1d" else 5):
                    continue  # below the smallest budget the scheme accepts
                new = create_tokenizer(name, **kw, max_len=max_len)
                ref = REFERENCE[name](**kw, max_len=max_len)
                for x in inputs:
                    got, got_info = new.encode(x, return_info=True)
                    want, want_info = ref.encode(x, return_info=True)
                    np.testing.assert_array_equal(got, want)
                    assert got_info == want_info
                    checked += 1
    assert checked > 1000


@pytest.mark.parametrize("order", ["row", "col"])
def test_iw_huge_and_dense_ids_match_reference(order: str) -> None:
    """Instance ids near the int64 limit, and many instances on a larger mask (dense run extraction)."""
    rng = np.random.default_rng(7)
    top = np.iinfo(np.int64).max
    for side in (9, 70):
        mask = make_mask((side, side), 3, "noisy", rng)
        inst = make_instances(mask, 3, rng)
        ids = np.unique(inst[inst > 0])
        big = np.zeros_like(inst)
        for j, i in enumerate(ids.tolist()):
            big[inst == i] = top - 3 * j
        for run_order in ("raster", "random"):
            kw: dict[str, Any] = dict(mask_size=side, num_classes=3, order=order, run_order=run_order, seed=3)
            new, ref = create_tokenizer("iw", **kw), ReferenceIW(**kw)
            for x in ((mask, big), (mask, inst), (mask, inst.astype(np.uint16))):
                np.testing.assert_array_equal(new.encode(x), ref.encode(x))


def _outcome(tok: Any, x: Any) -> str | np.ndarray:
    try:
        return tok.encode(x)
    except ValueError as err:
        return str(err)


def test_iw_error_messages_match_reference() -> None:
    """Instances that cover background or span classes (several of each, in either order): same message."""
    rng = np.random.default_rng(11)
    errors = 0
    for order in ("row", "col"):
        new = create_tokenizer("iw", mask_size=(5, 6), num_classes=3, order=order)
        ref = ReferenceIW((5, 6), 3, order=order)
        for _ in range(60):
            mask = make_mask((5, 6), 3, "blocks", rng)
            inst = make_instances(mask, 3, rng)
            flat = inst.reshape(-1)
            for _ in range(int(rng.integers(1, 4))):
                i, j = rng.integers(0, flat.size, size=2)
                flat[i] = flat[j] if rng.random() < 0.5 else rng.integers(1, 5)
            got, want = _outcome(new, (mask, inst)), _outcome(ref, (mask, inst))
            if isinstance(want, str):
                errors += 1
                assert got == want
            else:
                np.testing.assert_array_equal(got, want)
    assert errors > 20
