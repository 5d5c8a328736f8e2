"""The tokenizer interface every scheme implements, with the input checks and sequence framing they share.

A token sequence is the body (the runs of the scheme) followed by one EOS token; its length, EOS included,
never exceeds ``max_len`` when a budget is set. Decoding accepts a leading task-prompt token, stops at the
first EOS or PAD, and never raises: what cannot be used is dropped and counted in :class:`DecodeInfo`.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, overload

import numpy as np

from rleseg.tokenizers.vocab import EOS, PAD, PROMPT, Vocab

MaskInput = Any  # np.ndarray, or (mask, instances) for instance-aware schemes


@dataclass
class EncodeInfo:
    """What :meth:`Tokenizer.encode` did: runs found and kept, and whether the budget cut the sequence."""

    num_runs: int
    runs_kept: int
    full_length: int
    length: int

    @property
    def truncated(self) -> bool:
        """True when the budget ``max_len`` cut runs off the end of the sequence."""
        return self.runs_kept < self.num_runs

    @property
    def runs_cut(self) -> int:
        """Number of runs that did not fit in the budget."""
        return self.num_runs - self.runs_kept


@dataclass
class DecodeInfo:
    """What :meth:`Tokenizer.decode` kept and dropped.

    ``dropped`` maps a reason (``unexpected_token``, ``incomplete_run``, ``run_out_of_bounds``,
    ``unterminated_group``, ...) to the number of tokens dropped for it. ``overlaps`` counts runs painted
    over pixels an earlier run had painted (nothing is dropped for that; the later run wins).
    """

    num_tokens: int = 0
    num_runs: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    overlaps: int = 0
    stopped_at: Literal["eos", "pad", "end"] = "end"
    ignored_after_stop: int = 0

    @property
    def num_dropped(self) -> int:
        """Total number of tokens dropped, over all reasons."""
        return sum(self.dropped.values())

    def drop(self, reason: str, count: int = 1) -> None:
        """Record ``count`` dropped tokens for ``reason``."""
        if count:
            self.dropped[reason] += int(count)


def parse_mask_size(mask_size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``S`` or ``(H, W)`` -> ``(H, W)``, both positive ints."""
    if isinstance(mask_size, (int, np.integer)) and not isinstance(mask_size, bool):
        hw = (int(mask_size), int(mask_size))
    elif isinstance(mask_size, (tuple, list)) and len(mask_size) == 2:
        hw = (int(mask_size[0]), int(mask_size[1]))
        if hw != tuple(mask_size):
            raise ValueError(f"mask_size must hold integers, got {mask_size!r}")
    else:
        raise ValueError(f"mask_size must be an int S or a pair (H, W), got {mask_size!r}")
    if min(hw) < 1:
        raise ValueError(f"mask_size must be positive, got {mask_size!r}")
    return hw


def check_choice(name: str, value: object, choices: tuple[object, ...]) -> None:
    """Raise a ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def check_label_array(arr: object, shape: tuple[int, ...], max_value: int, what: str, scheme: str) -> np.ndarray:
    """Validate an integer label array: exact ``shape``, values in ``[0, max_value]``; returns it as ndarray."""
    if not isinstance(arr, np.ndarray):
        if hasattr(arr, "detach") and hasattr(arr, "cpu"):
            arr = arr.detach().cpu().numpy()  # a torch tensor
        else:
            raise ValueError(f"{scheme}: {what} must be a numpy array of shape {shape}, got {type(arr).__name__}")
    assert isinstance(arr, np.ndarray)
    if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{scheme}: {what} must have an integer or bool dtype, got {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(
            f"{scheme}: {what} has shape {arr.shape}, expected {shape} (the tokenizer's mask size"
            + (" with num_frames first)" if len(shape) == 3 else ")")
            + "; resize or subsample it first"
        )
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > max_value:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{scheme}: {what} holds value {bad}, expected values in [0, {max_value}]")
    return arr


class Tokenizer(ABC):
    """Base class of every tokenization scheme: a mask (or video, or mask + instances) <-> 1-D int64 tokens."""

    name: ClassVar[str]
    is_video: ClassVar[bool] = False
    instance_aware: ClassVar[bool] = False
    tokens_per_run_hint: ClassVar[int] = 2

    def __init__(
        self,
        mask_size: int | tuple[int, int],
        num_classes: int = 1,
        *,
        num_frames: int = 1,
        run_order: str = "raster",
        seed: int | None = 0,
        max_len: int | None = None,
    ) -> None:
        self.height, self.width = parse_mask_size(mask_size)
        if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 1:
            raise ValueError(f"num_classes must be an integer >= 1 (1 means binary), got {num_classes!r}")
        self.num_classes = int(num_classes)
        if isinstance(num_frames, bool) or int(num_frames) != num_frames or num_frames < 1:
            raise ValueError(f"num_frames must be an integer >= 1, got {num_frames!r}")
        if num_frames > 1 and not self.is_video and not self._supports_frames():
            raise ValueError(f"{self.name} is a static scheme; num_frames must be 1, got {num_frames}")
        self.num_frames = int(num_frames)
        check_choice("run_order", run_order, ("raster", "random"))
        self.run_order = run_order
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        if max_len is not None and (int(max_len) != max_len or max_len < 1):
            raise ValueError(f"max_len must be a positive integer or None, got {max_len!r}")
        self.max_len = None if max_len is None else int(max_len)
        self._vocab: Vocab | None = None

    # ----- what a subclass provides -------------------------------------------------------------------
    @classmethod
    def _supports_frames(cls) -> bool:
        return False

    @abstractmethod
    def layout(self) -> list[tuple[str, int]]:
        """The scheme's token ranges after the special tokens, as ``(name, size)`` pairs."""

    @abstractmethod
    def _encode_body(self, mask: MaskInput, rng: np.random.Generator | None) -> tuple[np.ndarray, int]:
        """Validated input -> ``(body tokens, number of runs)``; ``rng`` is set for random run order."""

    @abstractmethod
    def _truncate(self, body: np.ndarray, budget: int, mask: MaskInput) -> tuple[np.ndarray, int]:
        """Longest valid body (cut at a run boundary) within ``budget`` tokens, and its number of runs.

        ``body`` is the full body encoded from the validated ``mask``."""

    @abstractmethod
    def _decode_body(self, body: np.ndarray, info: DecodeInfo) -> Any:
        """Body tokens (no prompt, no EOS) -> mask (or ``(mask, instances)``); records drops in ``info``."""

    @abstractmethod
    def _validate(self, mask: MaskInput) -> MaskInput:
        """Check shape, dtype and value range of an input mask; raise ValueError saying what was expected."""

    @property
    def min_tokens_per_run(self) -> int:
        """Fewest tokens one run takes (used to check that a budget can hold at least one run)."""
        return self.tokens_per_run_hint

    # ----- public API ---------------------------------------------------------------------------------
    @property
    def vocab(self) -> Vocab:
        """The frozen vocabulary: special tokens then the scheme's named ranges."""
        if self._vocab is None:
            self._vocab = Vocab(self.layout())
        return self._vocab

    @property
    def vocab_size(self) -> int:
        """Number of token ids, special tokens included."""
        return self.vocab.size

    @property
    def mask_shape(self) -> tuple[int, ...]:
        """Shape of the masks this tokenizer takes and returns: ``(H, W)`` or ``(N, H, W)``."""
        if self.is_video or self.num_frames > 1:
            return (self.num_frames, self.height, self.width)
        return (self.height, self.width)

    @overload
    def encode(
        self, mask: MaskInput, *, return_info: Literal[False] = ..., rng: np.random.Generator | None = ...
    ) -> np.ndarray: ...

    @overload
    def encode(
        self, mask: MaskInput, *, return_info: Literal[True], rng: np.random.Generator | None = ...
    ) -> tuple[np.ndarray, EncodeInfo]: ...

    def encode(
        self, mask: MaskInput, *, return_info: bool = False, rng: np.random.Generator | None = None
    ) -> np.ndarray | tuple[np.ndarray, EncodeInfo]:
        """Mask -> tokens: 1-D int64 array, the runs then EOS, at most ``max_len`` long.

        ``mask``: ``(H, W)`` int array (``(N, H, W)`` for video schemes; ``(mask, instances)`` for ``iw``).
        With random run order the runs are shuffled with ``rng`` (default: the tokenizer's seeded generator).
        """
        mask = self._validate(mask)
        if self.run_order == "random" and rng is None:
            rng = self._rng
        body, num_runs = self._encode_body(mask, rng if self.run_order == "random" else None)
        full_length = body.size + 1
        kept = num_runs
        if self.max_len is not None and full_length > self.max_len:
            body, kept = self._truncate(body, self.max_len - 1, mask)
        tokens = np.empty(body.size + 1, dtype=np.int64)
        tokens[:-1] = body
        tokens[-1] = EOS
        if return_info:
            return tokens, EncodeInfo(num_runs, kept, full_length, tokens.size)
        return tokens

    @overload
    def decode(self, tokens: Any, *, return_info: Literal[False] = ...) -> Any: ...

    @overload
    def decode(self, tokens: Any, *, return_info: Literal[True]) -> tuple[Any, DecodeInfo]: ...

    def decode(self, tokens: Any, *, return_info: bool = False) -> Any:
        """Tokens -> mask of :attr:`mask_shape` (``(mask, instances)`` for ``iw``). Never raises on content.

        ``tokens``: 1-D sequence of ints (numpy, list or torch). An optional leading prompt is skipped;
        decoding stops at the first EOS or PAD; tokens that cannot form a valid run are dropped.
        """
        arr = _as_token_array(tokens)
        info = DecodeInfo()
        start = 0
        while start < arr.size and arr[start] == PROMPT:
            start += 1
        stops = np.flatnonzero((arr[start:] == EOS) | (arr[start:] == PAD))
        if stops.size:
            stop = start + int(stops[0])
            info.stopped_at = "eos" if arr[stop] == EOS else "pad"
            info.ignored_after_stop = int(arr.size - stop - 1)
        else:
            stop = arr.size
        body = arr[start:stop]
        info.num_tokens = int(body.size)
        result = self._decode_body(body, info)
        return (result, info) if return_info else result

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild this tokenizer: ``create_tokenizer(**tok.to_dict())``."""
        d: dict[str, Any] = {"name": self.name}
        for pname in inspect.signature(type(self).__init__).parameters:
            if pname == "self":
                continue
            value = getattr(self, pname if pname != "mask_size" else "_mask_size_value")
            d[pname] = list(value) if isinstance(value, tuple) else value
        return d

    @property
    def _mask_size_value(self) -> int | tuple[int, int]:
        return self.height if self.height == self.width else (self.height, self.width)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "name")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self))

    def check_budget(self) -> None:
        """Raise ValueError when ``max_len`` cannot hold one run and the EOS token."""
        if self.max_len is not None and self.max_len < self.min_tokens_per_run + 1:
            raise ValueError(
                f"{self.name}: max_len={self.max_len} cannot hold one run ({self.min_tokens_per_run} tokens) and EOS"
            )


def _as_token_array(tokens: Any) -> np.ndarray:
    """Any token container -> flat int64 numpy array. Values that are not whole numbers (NaN, 2.5, text)
    become -1, which no range holds, so decoding drops them as unexpected tokens."""
    if hasattr(tokens, "detach") and hasattr(tokens, "cpu"):
        tokens = tokens.detach().cpu().numpy()
    try:
        arr = np.asarray(tokens).reshape(-1)
    except (ValueError, TypeError):  # ragged nesting
        return np.full(1, -1, dtype=np.int64)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) or arr.dtype == np.bool_:
            f = arr.astype(np.float64)
            whole = np.isfinite(f) & (f == np.round(f)) & (np.abs(f) < 2.0**62)
            arr = np.where(whole, f, -1).astype(np.int64)
        else:
            arr = np.full(arr.size, -1, dtype=np.int64)
    return arr.astype(np.int64, copy=False)
