"""Schemes where every run is one fixed-size token tuple: binary, multiclass, lac, 3d-c, 3d-f, tac, ltac.

All of them flatten a label array (the mask, the video, or the video collapsed to Time-As-Class ids),
extract its runs and write each run as ``start token(s)`` + ``length/value token(s)``.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from rleseg.tokenizers.base import DecodeInfo, Tokenizer, check_choice, check_label_array
from rleseg.tokenizers.codecs import StartCodec, ValueCodec
from rleseg.tokenizers.parsing import parse_tuples, range_ids
from rleseg.tokenizers.runs import (
    Flattening,
    extract_foreground_runs,
    extract_runs,
    flattening_2d,
    flattening_video,
    paint_labels,
)


def mask_dtype(max_value: int) -> np.dtype:
    """Smallest unsigned dtype that holds ``max_value`` (uint8 for up to 255 classes)."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if max_value <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.int64)


class FlatRLETokenizer(Tokenizer):
    """Shared machinery of the fixed-tuple schemes; subclasses choose the flattening and value codec."""

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
        num_frames: int = 1,
    ) -> None:
        super().__init__(mask_size, num_classes, num_frames=num_frames, run_order=run_order, seed=seed, max_len=max_len)
        check_choice("order", order, ("row", "col"))
        self.order = order
        self.starts = starts
        self.flattening = self._make_flattening()
        self.start_codec = StartCodec(self.flattening, starts)
        self.value_codec = self._make_value_codec()
        self._pattern: np.ndarray | None = None
        self._paint_dtype = mask_dtype(self.value_codec.num_values)
        # (1-D start, length) tuples of a 0/1 mask: encode and decode take a shorter path (same tokens)
        self._binary_1d = (
            self.value_codec.mode == "length"
            and self.start_codec.mode == "1d"
            and type(self)._labels is FlatRLETokenizer._labels
        )
        self.check_budget()

    # ----- scheme hooks -------------------------------------------------------------------------------
    def _make_flattening(self) -> Flattening:
        return flattening_2d((self.height, self.width), self.order)

    @abstractmethod
    def _make_value_codec(self) -> ValueCodec:
        """How a run's length and value become tokens (length only, length + class, or LAC)."""

    def _labels(self, mask: np.ndarray) -> np.ndarray:
        """Validated input -> the label array the runs are taken from."""
        return mask

    def _unlabel(self, labels: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`_labels`."""
        return labels

    # ----- Tokenizer implementation -------------------------------------------------------------------
    @property
    def tokens_per_run(self) -> int:
        """Tokens in one run's tuple."""
        return self.start_codec.width + self.value_codec.width

    @property
    def min_tokens_per_run(self) -> int:
        return self.tokens_per_run

    def layout(self) -> list[tuple[str, int]]:
        return self.start_codec.layout() + self.value_codec.layout()

    @property
    def pattern(self) -> np.ndarray:
        """Range index of each token of a run tuple; ``(tokens_per_run,)``."""
        if self._pattern is None:
            self._pattern = range_ids(self.vocab, self.start_codec.range_names + self.value_codec.range_names)
        return self._pattern

    def _validate(self, mask: Any) -> np.ndarray:
        # Common case first (an unsigned or bool array of the right shape: one reduction, no minimum);
        # anything else, valid or not, goes through the full check and its error messages.
        if type(mask) is np.ndarray and mask.shape == self.mask_shape and mask.dtype.kind in "bu":
            if mask.dtype.kind == "b" or int(mask.max()) <= self.num_classes:
                return mask
        return check_label_array(mask, self.mask_shape, self.num_classes, "mask", self.name)

    def _foreground_runs(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(starts, lengths)`` of a validated 0/1 mask, read once (no separate flatten or transpose)."""
        labels = mask.view(np.bool_) if mask.dtype.itemsize == 1 else mask  # 0/1 bytes are valid bools
        return extract_foreground_runs(labels, self.flattening)

    def runs(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All runs of a validated mask in raster order: ``(starts, lengths, values)``, each ``(R,)``."""
        if self.value_codec.mode == "length" and type(self)._labels is FlatRLETokenizer._labels:
            starts, lengths = self._foreground_runs(mask)  # 0/1 labels: every value is 1
            return starts, lengths, np.ones(starts.size, dtype=np.int64)
        flat = self.flattening.flatten(self._labels(mask))
        return extract_runs(flat, self.flattening.line_len)

    def _encode_body(self, mask: np.ndarray, rng: np.random.Generator | None) -> tuple[np.ndarray, int]:
        if self._binary_1d:  # the tokens of StartCodec("1d") and ValueCodec("length"), written in place
            starts, lengths = self._foreground_runs(mask)
            if rng is not None:
                perm = rng.permutation(starts.size)
                starts, lengths = starts[perm], lengths[perm]
            body = np.empty((starts.size, 2), dtype=np.int64)
            np.add(starts, self.vocab["starts"].start, out=body[:, 0])
            np.add(lengths, self.vocab["lengths"].start - 1, out=body[:, 1])
            return body.reshape(-1), int(starts.size)
        starts, lengths, values = self.runs(mask)
        if rng is not None:
            perm = rng.permutation(starts.size)
            starts, lengths, values = starts[perm], lengths[perm], values[perm]
        cols = np.concatenate(
            [self.start_codec.encode(starts, self.vocab), self.value_codec.encode(lengths, values, self.vocab)],
            axis=1,
        )
        return cols.reshape(-1).astype(np.int64, copy=False), int(starts.size)

    def _truncate(self, body: np.ndarray, budget: int, mask: Any) -> tuple[np.ndarray, int]:
        runs = budget // self.tokens_per_run
        return body[: runs * self.tokens_per_run], runs

    @property
    def _tuple_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """First token and size of the range expected at each tuple position; two ``(k,)`` arrays."""
        if self._tuple_ranges_cache is None:
            ranges = [self.vocab[self.vocab.names[i]] for i in self.pattern.tolist()]
            self._tuple_ranges_cache = (
                np.array([r.start for r in ranges], dtype=np.int64),
                np.array([r.size for r in ranges], dtype=np.uint64),
            )
        return self._tuple_ranges_cache

    _tuple_ranges_cache: tuple[np.ndarray, np.ndarray] | None = None

    def _well_formed_tuples(self, body: np.ndarray) -> np.ndarray | None:
        """``body`` as ``(R, k)`` tuples when every token lies in its expected range (what parse_tuples
        returns then), checked in one pass; None otherwise."""
        k = self.tokens_per_run
        if body.size % k:
            return None
        tuples = body.reshape(-1, k)
        first, size = self._tuple_ranges
        index = np.subtract(tuples, first).view(np.uint64)  # negative -> huge: out of range
        return tuples if bool((index < size).all()) else None

    def _decode_body(self, body: np.ndarray, info: DecodeInfo) -> np.ndarray:
        tuples = self._well_formed_tuples(body)
        if tuples is None:
            tuples = parse_tuples(body, self.vocab.range_of(body), self.pattern, info)
        line_len = self.flattening.line_len
        if self._binary_1d:  # StartCodec("1d") and ValueCodec("length") decoding, inline
            starts = tuples[:, 0] - self.vocab["starts"].start
            lengths = tuples[:, 1] - (self.vocab["lengths"].start - 1)
            valid = starts % line_len + lengths <= line_len
            values = np.ones(starts.size, dtype=np.int64)
        else:
            w = self.start_codec.width
            starts, offsets, valid = self.start_codec.decode(tuples[:, :w], self.vocab)
            lengths, values = self.value_codec.decode(tuples[:, w:], self.vocab)
            valid &= offsets + lengths <= line_len
        if not valid.all():
            info.drop("run_out_of_bounds", int((~valid).sum()) * self.tokens_per_run)
            starts, lengths, values = starts[valid], lengths[valid], values[valid]
        info.num_runs = int(starts.size)
        labels, info.overlaps = paint_labels(self.flattening, starts, lengths, values, self._paint_dtype)
        return self._unlabel(labels)


class BinaryTokenizer(FlatRLETokenizer):
    """``binary``: (start, length) per run of a 0/1 mask [paper II]."""

    name = "binary"

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
        if num_classes != 1:
            raise ValueError(
                f"binary takes num_classes=1 (0/1 masks), got {num_classes}; use 'multiclass' or 'lac' "
                "for several classes, or binarise the mask first"
            )
        super().__init__(mask_size, 1, order=order, starts=starts, run_order=run_order, seed=seed, max_len=max_len)

    def _make_value_codec(self) -> ValueCodec:
        return ValueCodec("length", self.flattening.line_len, 1)


class MulticlassTokenizer(FlatRLETokenizer):
    """``multiclass``: (start, length, class) per run, a separate class token [paper II]."""

    name = "multiclass"
    tokens_per_run_hint = 3

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
        super().__init__(
            mask_size, num_classes, order=order, starts=starts, run_order=run_order, seed=seed, max_len=max_len
        )

    def _make_value_codec(self) -> ValueCodec:
        return ValueCodec("class", self.flattening.line_len, self.num_classes)


class LACTokenizer(MulticlassTokenizer):
    """``lac``: (start, Lengths-As-Class token) per run; LAC = (class - 1) * line_len + length - 1 [III-C]."""

    name = "lac"
    tokens_per_run_hint = 2

    def _make_value_codec(self) -> ValueCodec:
        return ValueCodec("lac", self.flattening.line_len, self.num_classes, "lac")


class VideoFlatTokenizer(FlatRLETokenizer):
    """Video schemes over ``(N, H, W)`` masks: shared constructor with ``num_frames`` and ``classes``."""

    is_video = True
    video_kind = "c"
    default_order = "row"

    def __init__(
        self,
        mask_size: int | tuple[int, int],
        num_classes: int = 1,
        *,
        num_frames: int = 2,
        order: str | None = None,
        starts: str = "1d",
        classes: str = "token",
        run_order: str = "raster",
        seed: int | None = 0,
        max_len: int | None = None,
    ) -> None:
        check_choice("classes", classes, ("token", "lac"))
        self.classes = classes
        super().__init__(
            mask_size,
            num_classes,
            order=self.default_order if order is None else order,
            starts=starts,
            run_order=run_order,
            seed=seed,
            max_len=max_len,
            num_frames=num_frames,
        )

    def _make_flattening(self) -> Flattening:
        return flattening_video((self.num_frames, self.height, self.width), self.video_kind, self.order)

    def _make_value_codec(self) -> ValueCodec:
        ll = self.flattening.line_len
        if self.num_classes == 1:
            return ValueCodec("length", ll, 1)
        return ValueCodec(
            "class" if self.classes == "token" else "lac",
            ll,
            self.num_classes,
            "classes" if self.classes == "token" else "lac",
        )


class Video3DCTokenizer(VideoFlatTokenizer):
    """``3d-c``: the video flattened frame after frame (C order); runs of one frame follow another [IV]."""

    name = "3d-c"


class Video3DFTokenizer(VideoFlatTokenizer):
    """``3d-f``: the video flattened with time fastest (Fortran order); lines are N*H long [IV]."""

    name = "3d-f"
    video_kind = "f"
    default_order = "col"


class TACTokenizer(VideoFlatTokenizer):
    """``tac``: Time-As-Class. The video collapses to one ``(H, W)`` mask of TAC ids
    ``id = sum_i c_i (C+1)^i`` over frames i, then (start, length, TAC class) per run [IV-A]."""

    name = "tac"
    tokens_per_run_hint = 3
    value_mode = "class"

    @property
    def num_tac_classes(self) -> int:
        """``(C + 1)^N - 1``: every combination of per-frame classes but all-background."""
        return int((self.num_classes + 1) ** self.num_frames - 1)

    def _make_flattening(self) -> Flattening:
        return flattening_2d((self.height, self.width), self.order)

    def _make_value_codec(self) -> ValueCodec:
        if self.classes != "token":  # the value token layout is fixed by the scheme; don't ignore the option
            raise ValueError(
                f"{self.name}: classes must be 'token', got {self.classes!r}; the value tokens are fixed by the "
                "scheme ('tac': a TAC class token, 'ltac': one token per TAC class and length)"
            )
        return ValueCodec(self.value_mode, self.flattening.line_len, self.num_tac_classes, self.name)

    def _labels(self, mask: np.ndarray) -> np.ndarray:
        base = self.num_classes + 1
        weights = base ** np.arange(self.num_frames, dtype=np.int64)
        return np.tensordot(weights, mask.astype(np.int64), axes=(0, 0))

    def _unlabel(self, labels: np.ndarray) -> np.ndarray:
        base = self.num_classes + 1
        weights = base ** np.arange(self.num_frames, dtype=np.int64)
        frames = (labels.astype(np.int64)[None] // weights[:, None, None]) % base
        return frames.astype(mask_dtype(self.num_classes))


class LTACTokenizer(TACTokenizer):
    """``ltac``: Length-and-Time-As-Class: (start, one token for TAC class and length) per run [IV-B]."""

    name = "ltac"
    tokens_per_run_hint = 2
    value_mode = "lac"
