"""Schemes without explicit run lengths or starts, where positions accumulate: ``bac`` and ``diff`` [paper VI].

``bac`` (background-as-class): background is one more class, so runs tile the flattened mask and each run
is (length, class) -- or one LAC-style token with ``classes="lac"``; a start is the sum of the lengths
before it. Trailing background is left out. Runs still end at line ends, so lengths stay below line_len.

``diff`` (differential mask): only the positions where the flattened mask changes value are written, each
as a start token (1-D or 2-D) followed, for several classes, by the new value (background included);
binary masks toggle and need no value token.

Both depend on every earlier token, so their run order is always raster.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rleseg.tokenizers.base import DecodeInfo, Tokenizer, check_choice, check_label_array
from rleseg.tokenizers.codecs import StartCodec
from rleseg.tokenizers.flat import mask_dtype
from rleseg.tokenizers.parsing import parse_tuples, range_ids
from rleseg.tokenizers.runs import Flattening, extract_runs, flattening_2d


class CumulativeTokenizer(Tokenizer):
    """Shared constructor: static masks, row or column order, raster run order only."""

    def __init__(
        self,
        mask_size: int | tuple[int, int],
        num_classes: int = 1,
        *,
        order: str = "row",
        run_order: str = "raster",
        seed: int | None = 0,
        max_len: int | None = None,
    ) -> None:
        if run_order != "raster":
            raise ValueError(
                f"{self.name}: run positions accumulate over earlier tokens, so run_order must be 'raster', "
                f"got {run_order!r}"
            )
        super().__init__(mask_size, num_classes, run_order=run_order, seed=seed, max_len=max_len)
        check_choice("order", order, ("row", "col"))
        self.order = order
        self.flattening: Flattening = flattening_2d((self.height, self.width), order)

    def _validate(self, mask: Any) -> np.ndarray:
        return check_label_array(mask, self.mask_shape, self.num_classes, "mask", self.name)


class BACTokenizer(CumulativeTokenizer):
    """``bac``: (length, class-or-background) per run, runs tiling the mask; no start tokens."""

    name = "bac"

    def __init__(
        self,
        mask_size: int | tuple[int, int],
        num_classes: int = 1,
        *,
        order: str = "row",
        classes: str = "token",
        run_order: str = "raster",
        seed: int | None = 0,
        max_len: int | None = None,
    ) -> None:
        check_choice("classes", classes, ("token", "lac"))
        self.classes = classes
        super().__init__(mask_size, num_classes, order=order, run_order=run_order, seed=seed, max_len=max_len)
        self.check_budget()

    @property
    def tokens_per_run(self) -> int:
        """2 with a separate class token, 1 with combined (class, length) tokens."""
        return 2 if self.classes == "token" else 1

    @property
    def min_tokens_per_run(self) -> int:
        return self.tokens_per_run

    def layout(self) -> list[tuple[str, int]]:
        ll, c1 = self.flattening.line_len, self.num_classes + 1
        if self.classes == "token":
            return [("lengths", ll), ("bac_classes", c1)]
        return [("bac_lac", ll * c1)]

    def _encode_body(self, mask: np.ndarray, rng: np.random.Generator | None) -> tuple[np.ndarray, int]:
        flat = self.flattening.flatten(mask).astype(np.int64, copy=False)
        # runs of value+1 tile the mask (background becomes 1); drop the trailing background run
        starts, lengths, values = extract_runs(flat + 1, self.flattening.line_len)
        values = values - 1
        last_fg = np.flatnonzero(values != 0)
        r = int(last_fg[-1]) + 1 if last_fg.size else 0
        lengths, values = lengths[:r], values[:r]
        ll = self.flattening.line_len
        if self.classes == "token":
            cols = np.stack([lengths - 1 + self.vocab["lengths"].start, values + self.vocab["bac_classes"].start], 1)
        else:
            cols = (values * ll + lengths - 1 + self.vocab["bac_lac"].start)[:, None]
        return cols.reshape(-1), int(np.count_nonzero(values))  # background runs are not counted as runs

    def _truncate(self, body: np.ndarray, budget: int, mask: Any) -> tuple[np.ndarray, int]:
        """Keep whole (length, class) tuples that fit, ending on a foreground run (trailing background is
        implicit, as in the full encoding); returns the body and its number of foreground runs."""
        k = self.tokens_per_run
        tuples = body[: (budget // k) * k].reshape(-1, k)
        if self.classes == "token":
            values = tuples[:, 1] - self.vocab["bac_classes"].start
        else:
            values = (tuples[:, 0] - self.vocab["bac_lac"].start) // self.flattening.line_len
        fg = np.flatnonzero(values != 0)
        r = int(fg[-1]) + 1 if fg.size else 0
        return tuples[:r].reshape(-1), int(fg.size)

    def _decode_body(self, body: np.ndarray, info: DecodeInfo) -> np.ndarray:
        ll, n = self.flattening.line_len, self.flattening.size
        if self.classes == "token":
            pattern = range_ids(self.vocab, ("lengths", "bac_classes"))
            tuples = parse_tuples(body, self.vocab.range_of(body), pattern, info)
            lengths = tuples[:, 0] - self.vocab["lengths"].start + 1
            values = tuples[:, 1] - self.vocab["bac_classes"].start
        else:
            pattern = range_ids(self.vocab, ("bac_lac",))
            tuples = parse_tuples(body, self.vocab.range_of(body), pattern, info)
            values, lengths = np.divmod(tuples[:, 0] - self.vocab["bac_lac"].start, ll)
            lengths = lengths + 1
        ends = np.cumsum(lengths)
        fits = ends <= n
        if not fits.all():
            info.drop("run_out_of_bounds", int((~fits).sum()) * self.tokens_per_run)
            lengths, values = lengths[fits], values[fits]
        info.num_runs = int(np.count_nonzero(values))
        tail = n - int(lengths.sum())
        flat = np.repeat(np.append(values, 0), np.append(lengths, tail)).astype(mask_dtype(self.num_classes))
        return self.flattening.unflatten(flat)


class DiffTokenizer(CumulativeTokenizer):
    """``diff``: the change points of the flattened mask; (start) for binary, (start, new value) otherwise."""

    name = "diff"

    def __init__(
        self,
        mask_size: int | tuple[int, int],
        num_classes: int = 1,
        *,
        order: str = "row",
        starts: str = "1d",
        run_order: str = "raster",
        seed: int | None = 0,
        max_len: int | None = None,
    ) -> None:
        super().__init__(mask_size, num_classes, order=order, run_order=run_order, seed=seed, max_len=max_len)
        self.starts = starts
        self.start_codec = StartCodec(self.flattening, starts)
        self.check_budget()

    @property
    def binary(self) -> bool:
        """True for one class: changes toggle, so no value token is written."""
        return self.num_classes == 1

    @property
    def tokens_per_change(self) -> int:
        """Tokens per change point."""
        return self.start_codec.width + (0 if self.binary else 1)

    @property
    def min_tokens_per_run(self) -> int:
        return 2 * self.tokens_per_change  # a run needs its change on and its change off

    def layout(self) -> list[tuple[str, int]]:
        layout = self.start_codec.layout()
        if not self.binary:
            layout.append(("diff_classes", self.num_classes + 1))
        return layout

    def _changes(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions where the flattened mask changes value (from 0 before the first pixel) and new values."""
        flat = self.flattening.flatten(mask).astype(np.int64, copy=False)
        prev = np.empty_like(flat)
        prev[0] = 0
        prev[1:] = flat[:-1]
        pos = np.flatnonzero(flat != prev)
        return pos, flat[pos]

    def _change_tokens(self, pos: np.ndarray, vals: np.ndarray) -> np.ndarray:
        cols = self.start_codec.encode(pos, self.vocab)
        if not self.binary:
            cols = np.concatenate([cols, (vals + self.vocab["diff_classes"].start)[:, None]], axis=1)
        return cols.reshape(-1)

    def _encode_body(self, mask: np.ndarray, rng: np.random.Generator | None) -> tuple[np.ndarray, int]:
        pos, vals = self._changes(mask)
        return self._change_tokens(pos, vals).astype(np.int64, copy=False), int(np.count_nonzero(vals))

    def encode_changes_truncated(self, mask: np.ndarray, budget: int) -> tuple[np.ndarray, int]:
        """Body of at most ``budget`` tokens ending after a whole run; returns it and the runs kept."""
        pos, vals = self._changes(mask)
        k = self.tokens_per_change
        best: tuple[np.ndarray, int] = (np.zeros(0, dtype=np.int64), 0)
        # keep changes[:j] then, if the value after change j-1 is not 0, close that run at pos[j] with a 0
        for j in range(min(len(pos), budget // k), 0, -1):
            closing = vals[j - 1] != 0
            if (j + closing) * k > budget:
                continue
            p, v = pos[:j], vals[:j]
            if closing:
                end = pos[j] if j < len(pos) else self.flattening.size
                if end >= self.flattening.size:
                    continue  # the run reaches the last pixel: it cannot be closed, keep fewer changes
                p, v = np.append(p, end), np.append(v, 0)
            best = (self._change_tokens(p, v).astype(np.int64), int(np.count_nonzero(v)))
            break
        return best

    def _truncate(self, body: np.ndarray, budget: int, mask: Any) -> tuple[np.ndarray, int]:
        """When the budget cuts, the last kept run is closed by a change to background."""
        return self.encode_changes_truncated(mask, budget)

    def _decode_body(self, body: np.ndarray, info: DecodeInfo) -> np.ndarray:
        n = self.flattening.size
        names = self.start_codec.range_names + (() if self.binary else ("diff_classes",))
        tuples = parse_tuples(body, self.vocab.range_of(body), range_ids(self.vocab, names), info)
        w = self.start_codec.width
        pos, _, valid = self.start_codec.decode(tuples[:, :w], self.vocab)
        k = self.tokens_per_change
        info.drop("run_out_of_bounds", int((~valid).sum()) * k)
        pos = pos[valid]
        vals = None if self.binary else tuples[valid, w] - self.vocab["diff_classes"].start
        # change points must strictly increase; drop those that do not
        increasing = np.ones(pos.size, dtype=np.bool_)
        if pos.size > 1:
            running_max = np.maximum.accumulate(pos)
            increasing[1:] = pos[1:] > running_max[:-1]
        info.drop("out_of_order", int((~increasing).sum()) * k)
        pos = pos[increasing]
        if vals is None:
            vals = (np.arange(pos.size) % 2 == 0).astype(np.int64)
        else:
            vals = vals[increasing]
        info.num_runs = int(np.count_nonzero(vals))
        reps = np.diff(np.append(np.append(0, pos), n))
        flat = np.repeat(np.append(0, vals), reps).astype(mask_dtype(self.num_classes))
        return self.flattening.unflatten(flat)
