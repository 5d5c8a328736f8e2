"""Tokenization statistics, as in the paper's appendix: sequence lengths, vocabulary sizes, subsampling loss.

Three tables, each returned as plain data (a list of dict rows, ready for :func:`write_csv` and
:func:`write_json`):

- :class:`LengthStats` (Tables 3-6): mean and max sequence length of every window, and the share of windows
  longer than each threshold, per scheme and geometry. Lengths count the run tokens only, as the paper does
  (no EOS; ``count_eos=True`` adds it).
- :func:`vocab_table` (Tables 7-10): vocabulary sizes by range for given S, C, N, built from the tokenizers
  themselves; ``V`` excludes the special tokens, as the paper's V does.
- :class:`SubsamplingLoss` (Table 11): recall, precision (the paper's per-class IoU) and dice between each
  window and ``upsample(subsample(window))``, averaged over the windows.

Geometry (paper III-B and IV): a mask is resized to ``I x I`` (nearest; ``keep_aspect`` resizes the longer
side to I instead), cut into non-overlapping ``P x P`` windows (the last row and column of windows are padded
with background when P does not divide the size), and each window is subsampled to ``S x S`` (by the factor
``P / S``; nearest resize when that is not an integer). Video schemes take clips of ``N`` consecutive frames
(stride ``frame_stride``, default N; the last clip ends at the last frame; a video shorter than N repeats its
last frame). Static schemes on videos treat every frame as one mask. Schemes that take one class
(``binary``, or any scheme written ``name:binary``) binarise multi-class masks first (every class -> 1);
their rows say so in ``binarised`` and ``note``.

Scheme specs are registry names with optional ``:key=value`` options, e.g. ``lac``, ``lac:order=col``,
``3d-c:classes=lac`` (the paper's multi-class "LAC" video column), ``tac:binary``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rleseg.metrics.confusion import class_agnostic, confusion_matrix, mean_dice, mean_precision, mean_recall
from rleseg.tokenizers.base import Tokenizer
from rleseg.tokenizers.registry import create_tokenizer, tokenizer_class
from rleseg.tokenizers.resolution import resize_nearest, subsample, upsample
from rleseg.tokenizers.vocab import SPECIAL_RANGES

DEFAULT_THRESHOLDS: tuple[int, ...] = (512, 1024, 1536, 2048, 3072, 4096, 5120, 6144, 7168)
DEFAULT_MAX_VOCAB = 32_000  # the paper's "V up to 32K" (Pix2Seq multi-task vocabulary)
DEFAULT_TOLERANCE = 0.02  # the paper: fewer than 2% of sequences longer than L does not hurt
START_RANGES = ("starts", "coords")
LENGTH_RANGES = ("lengths",)
_SPECIAL_NAMES = tuple(name for name, _ in SPECIAL_RANGES)

MaskItem = Any  # np.ndarray (H, W) / (T, H, W), or a (mask, instances) pair of such arrays


# ----- scheme specs -------------------------------------------------------------------------------------
def _parse_value(text: str) -> Any:
    if text.lstrip("-").isdigit():
        return int(text)
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


@dataclass(frozen=True)
class SchemeSpec:
    """A registered scheme with options: ``"lac"``, ``"lac:order=col:starts=2d"``, ``"tac:binary"``.

    ``binary`` as an option means: binarise the masks and use one class. Options are passed to
    :func:`create_tokenizer` unchanged (a wrong option raises its ValueError there).
    """

    name: str
    options: tuple[tuple[str, Any], ...] = ()
    binarize: bool = False

    @classmethod
    def parse(cls, spec: str | SchemeSpec) -> SchemeSpec:
        """Parse ``name[:key=value][:binary]...``; the name must be registered."""
        if isinstance(spec, SchemeSpec):
            return spec
        parts = [p.strip() for p in str(spec).strip().split(":")]
        name, binarize, options = parts[0], False, []
        tokenizer_class(name)  # ValueError listing the known schemes
        for part in parts[1:]:
            if part == "binary":
                binarize = True
            elif "=" in part:
                key, value = part.split("=", 1)
                if key.strip() in ("mask_size", "num_classes", "num_frames"):
                    raise ValueError(f"scheme {spec!r}: set {key.strip()} with the table options, not in the spec")
                options.append((key.strip(), _parse_value(value.strip())))
            else:
                raise ValueError(f"scheme {spec!r}: option {part!r} is neither 'binary' nor key=value")
        return cls(name, tuple(options), binarize)

    @property
    def label(self) -> str:
        """The spec written back as a string (``name:key=value:binary``)."""
        parts = [self.name, *(f"{k}={v}" for k, v in self.options)]
        if self.binarize:
            parts.append("binary")
        return ":".join(parts)

    @property
    def is_video(self) -> bool:
        """True for the video schemes (3d-c, 3d-f, tac, ltac), which take ``(N, H, W)`` clips."""
        return tokenizer_class(self.name).is_video

    @property
    def binarizes(self) -> bool:
        """True when masks are binarised first (the ``binary`` scheme, or the ``:binary`` option)."""
        return self.binarize or self.name == "binary"

    @property
    def instance_aware(self) -> bool:
        """True for schemes that take ``(mask, instances)`` (iw)."""
        return tokenizer_class(self.name).instance_aware

    def build(self, mask_size: int | tuple[int, int], num_classes: int, num_frames: int = 1) -> Tokenizer:
        """The tokenizer for this spec at ``S``, ``C`` (1 when binarising) and ``N`` (video schemes only)."""
        kw: dict[str, Any] = dict(self.options)
        kw["mask_size"] = mask_size
        kw["num_classes"] = 1 if self.binarizes else int(num_classes)
        if self.is_video:
            kw["num_frames"] = int(num_frames)
        return create_tokenizer(self.name, **kw)


def parse_schemes(specs: str | Sequence[str | SchemeSpec]) -> list[SchemeSpec]:
    """A comma-separated string or a list of specs -> list of :class:`SchemeSpec` (duplicates dropped)."""
    items = specs.split(",") if isinstance(specs, str) else list(specs)
    out: list[SchemeSpec] = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        spec = SchemeSpec.parse(item)
        if spec not in out:
            out.append(spec)
    if not out:
        raise ValueError("no scheme given")
    return out


# ----- geometry -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Geometry:
    """Image size I, patch size P, mask size S and clip length N (None: not applied).

    ``image_size`` None keeps each mask's size; ``patch_size`` None takes the whole (resized) mask as one
    window; ``mask_size`` None keeps the window's size (no subsampling). ``num_frames``/``frame_stride``
    only matter for video schemes.
    """

    image_size: int | None = None
    patch_size: int | None = None
    mask_size: int | None = None
    num_frames: int = 1
    frame_stride: int | None = None
    keep_aspect: bool = False

    def __post_init__(self) -> None:
        for name in ("image_size", "patch_size", "mask_size", "frame_stride"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or int(v) != v or v < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
        if isinstance(self.num_frames, bool) or int(self.num_frames) != self.num_frames or self.num_frames < 1:
            raise ValueError(f"num_frames must be a positive integer, got {self.num_frames!r}")
        i, p, s = self.image_size, self.patch_size, self.mask_size
        if i is not None and p is not None and p > i:
            raise ValueError(f"patch size P={p} is larger than image size I={i}")
        window = p if p is not None else (i if not self.keep_aspect else None)
        if s is not None and window is not None and s > window:
            raise ValueError(f"mask size S={s} is larger than the window ({window}); S must be <= P")

    @property
    def window_size(self) -> int | None:
        """Side of the square windows before subsampling (P, or I without patches); None when it varies."""
        if self.patch_size is not None:
            return self.patch_size
        return self.image_size if not self.keep_aspect else None

    @property
    def static(self) -> Geometry:
        """The same geometry without its temporal part (what static schemes use)."""
        return replace(self, num_frames=1, frame_stride=None)

    def resize(self, arr: np.ndarray) -> np.ndarray:
        """``(..., H, W)`` -> resized to ``I x I`` (or longer side I with ``keep_aspect``), nearest."""
        if self.image_size is None:
            return arr
        h, w = arr.shape[-2:]
        if self.keep_aspect:
            scale = self.image_size / max(h, w)
            size = (max(1, round(h * scale)), max(1, round(w * scale)))
        else:
            size = (self.image_size, self.image_size)
        return arr if size == (h, w) else resize_nearest(arr, size)

    def tiles(self, arr: np.ndarray) -> list[np.ndarray]:
        """Non-overlapping ``P x P`` windows of the last two axes, padded with 0 at the bottom/right edge."""
        p = self.patch_size
        if p is None:
            return [arr]
        h, w = arr.shape[-2:]
        ph, pw = -h % p, -w % p
        if ph or pw:
            arr = np.pad(arr, [(0, 0)] * (arr.ndim - 2) + [(0, ph), (0, pw)])
        return [arr[..., y : y + p, x : x + p] for y in range(0, h + ph, p) for x in range(0, w + pw, p)]

    def to_mask_size(self, tile: np.ndarray) -> np.ndarray:
        """Subsample a window to ``S x S`` (factor P/S, :func:`subsample`; nearest resize otherwise)."""
        s = self.mask_size
        if s is None:
            return tile
        h, w = tile.shape[-2:]
        if (h, w) == (s, s):
            return tile
        if h == w and h % s == 0:
            return subsample(tile, h // s)
        return resize_nearest(tile, (s, s))

    def back_to_window(self, small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Inverse of :meth:`to_mask_size`: bring an ``S x S`` mask back to the window's ``shape``."""
        h, w = small.shape[-2:]
        if (h, w) == tuple(shape):
            return small
        if h == w and shape[0] == shape[1] and shape[0] % h == 0:
            return upsample(small, shape[0] // h)
        return resize_nearest(small, shape)

    def clips(self, video: np.ndarray) -> list[np.ndarray]:
        """``(T, H, W)`` -> clips ``(N, H, W)`` of consecutive frames (stride ``frame_stride``, default N)."""
        n, t = self.num_frames, video.shape[0]
        stride = self.frame_stride or n
        if t <= n:
            idx = np.minimum(np.arange(n), t - 1)
            return [video[idx]]
        starts = list(range(0, t - n + 1, stride))
        if starts[-1] != t - n:
            starts.append(t - n)
        return [video[s : s + n] for s in starts]

    def windows(self, arr: np.ndarray, video: bool) -> list[np.ndarray]:
        """Windows at mask size S: ``(H, W)`` -> ``(S, S)`` each; videos ``(T, H, W)`` -> ``(N, S, S)``."""
        resized = self.resize(arr)
        if video:
            return [self.to_mask_size(t) for clip in self.clips(resized) for t in self.tiles(clip)]
        return [self.to_mask_size(t) for t in self.tiles(resized)]

    def describe(self) -> dict[str, Any]:
        """``{"I", "P", "S", "N"}`` as reported in the tables (P and S filled in when implied)."""
        window = self.window_size
        return {
            "I": self.image_size,
            "P": window,
            "S": self.mask_size if self.mask_size is not None else window,
        }


def make_geometries(
    image_sizes: Sequence[int | None] = (None,),
    patch_sizes: Sequence[int | None] = (None,),
    mask_sizes: Sequence[int | None] = (None,),
    frames: Sequence[int] = (1,),
    frame_stride: int | None = None,
    keep_aspect: bool = False,
) -> list[Geometry]:
    """Every combination of the given I, P, S and N values (ValueError on an impossible one, e.g. S > P)."""
    out = []
    for i in image_sizes or (None,):
        for p in patch_sizes or (None,):
            for s in mask_sizes or (None,):
                for n in frames or (1,):
                    g = Geometry(i, p, s, n, frame_stride, keep_aspect)
                    if g not in out:
                        out.append(g)
    return out


# ----- input checks -------------------------------------------------------------------------------------
def _split_item(item: MaskItem) -> tuple[np.ndarray, np.ndarray | None]:
    """A mask, or a (mask, instances) pair -> two arrays (instances None), checked for shape and dtype."""
    if isinstance(item, (tuple, list)):
        if len(item) != 2:
            raise ValueError(f"expected a mask or a (mask, instances) pair, got a sequence of {len(item)}")
        mask, inst = np.asarray(item[0]), (None if item[1] is None else np.asarray(item[1]))
    else:
        mask, inst = np.asarray(item), None
    if mask.ndim not in (2, 3):
        raise ValueError(f"expected a (H, W) mask or a (T, H, W) video, got shape {mask.shape}")
    for arr, what in ((mask, "mask"), (inst, "instances")):
        if arr is None:
            continue
        if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{what} must have an integer dtype, got {arr.dtype}")
        if arr.shape != mask.shape:
            raise ValueError(f"instances have shape {arr.shape} but the mask has shape {mask.shape}")
        if arr.size and int(arr.min()) < 0:
            raise ValueError(f"{what} holds negative value {int(arr.min())}; expected ids >= 0")
    return mask, inst


def _max_label(mask: np.ndarray, num_classes: int | None) -> int:
    """Largest class id of ``mask``; ValueError when it exceeds ``num_classes``."""
    top = int(mask.max()) if mask.size else 0
    if num_classes is not None and top > num_classes:
        raise ValueError(f"mask holds class id {top}, above num_classes={num_classes} (ids must be 0..{num_classes})")
    return top


def _binarise(arr: np.ndarray) -> np.ndarray:
    return (arr > 0).astype(np.uint8)


def _shape_label(shapes: set[tuple[int, ...]]) -> int | str | None:
    """Reported S: an int for one square shape, ``"HxW"`` for one other shape, ``"mixed"`` otherwise."""
    if not shapes:
        return None
    if len(shapes) > 1:
        return "mixed"
    h, w = next(iter(shapes))[-2:]
    return h if h == w else f"{h}x{w}"


# ----- Tables 3-6: sequence lengths ---------------------------------------------------------------------
@dataclass
class _LengthAcc:
    lengths: list[int] = field(default_factory=list)
    shapes: set[tuple[int, ...]] = field(default_factory=set)


class LengthStats:
    """Accumulates sequence lengths per (scheme, geometry); :meth:`rows` gives the Tables 3-6 statistics.

    ``schemes``: specs (see :class:`SchemeSpec`); ``geometries``: one or more :class:`Geometry` (static
    schemes ignore their N); ``num_classes``: C, checked against every mask (None: the largest id seen).
    Feed masks with :meth:`add`: ``(H, W)`` or ``(T, H, W)`` int arrays, or ``(mask, instances)`` pairs
    (needed by ``iw``). Video schemes need ``(T, H, W)`` input.

    >>> st = LengthStats(["lac"], [Geometry(mask_size=4)], num_classes=2)
    >>> st.add(np.array([[0, 1, 1, 0]] * 4))
    >>> st.rows()[0]["mean"]
    8.0
    """

    def __init__(
        self,
        schemes: str | Sequence[str | SchemeSpec],
        geometries: Geometry | Sequence[Geometry] = Geometry(),
        num_classes: int | None = None,
        thresholds: Sequence[int] = DEFAULT_THRESHOLDS,
        *,
        count_eos: bool = False,
        tolerance: float = DEFAULT_TOLERANCE,
    ) -> None:
        self.schemes = parse_schemes(schemes)
        geos = [geometries] if isinstance(geometries, Geometry) else list(geometries)
        if not geos:
            raise ValueError("no geometry given")
        if num_classes is not None and (int(num_classes) != num_classes or num_classes < 1):
            raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
        self.num_classes = None if num_classes is None else int(num_classes)
        self.thresholds = tuple(sorted(int(t) for t in thresholds))
        self.count_eos = count_eos
        self.tolerance = float(tolerance)
        # (spec, geometry) pairs in table order; static schemes use the geometry without N
        self.keys: list[tuple[SchemeSpec, Geometry]] = []
        for g in geos:
            for spec in self.schemes:
                key = (spec, g if spec.is_video else g.static)
                if key not in self.keys:
                    self.keys.append(key)
        for spec, g in self.keys:  # bad scheme options fail here, before any data is read
            spec.build(8, self.num_classes or 1, g.num_frames)
        self._acc = {key: _LengthAcc() for key in self.keys}
        self._tokenizers: dict[tuple[Any, ...], Tokenizer] = {}
        self.max_label = 0
        self.num_items = 0

    @property
    def needs_video(self) -> bool:
        """True when a video scheme was asked for (then every input must be a ``(T, H, W)`` video)."""
        return any(spec.is_video for spec in self.schemes)

    def _tokenizer(self, spec: SchemeSpec, shape: tuple[int, ...], num_classes: int, n: int) -> Tokenizer:
        key = (spec, shape[-2:], num_classes, n)
        tok = self._tokenizers.get(key)
        if tok is None:
            tok = self._tokenizers[key] = spec.build(tuple(shape[-2:]), num_classes, n)  # type: ignore[arg-type]
        return tok

    def add(self, item: MaskItem) -> None:
        """Add one mask, video or ``(mask, instances)`` pair: every window of every geometry, every scheme."""
        mask, inst = _split_item(item)
        top = _max_label(mask, self.num_classes)
        is_video = mask.ndim == 3
        if self.needs_video and not is_video:
            names = ", ".join(s.label for s in self.schemes if s.is_video)
            raise ValueError(
                f"video scheme(s) {names} need videos of shape (T, H, W); got a mask of shape {mask.shape}"
            )
        if inst is None and any(s.instance_aware for s in self.schemes):
            raise ValueError("scheme iw needs instance masks: add (mask, instances) pairs")
        c_eff = self.num_classes if self.num_classes is not None else max(1, top)
        self.max_label = max(self.max_label, top)
        self.num_items += 1
        by_geometry: dict[Geometry, list[SchemeSpec]] = {}
        for spec, g in self.keys:
            by_geometry.setdefault(g, []).append(spec)
        for g, specs in by_geometry.items():
            video_specs = [s for s in specs if s.is_video]
            static_specs = [s for s in specs if not s.is_video]
            if video_specs:
                wins = g.windows(mask, video=True)
                for spec in video_specs:
                    self._encode_all(spec, g, wins, None, c_eff)
            if static_specs:
                frames = list(mask) if is_video else [mask]
                wins = [w for f in frames for w in g.windows(f, video=False)]
                inst_wins = None
                if inst is not None:
                    iframes = list(inst) if is_video else [inst]
                    inst_wins = [w for f in iframes for w in g.windows(f, video=False)]
                for spec in static_specs:
                    self._encode_all(spec, g, wins, inst_wins, c_eff)

    def _encode_all(
        self,
        spec: SchemeSpec,
        g: Geometry,
        wins: list[np.ndarray],
        inst_wins: list[np.ndarray] | None,
        c: int,
    ) -> None:
        acc = self._acc[(spec, g)]
        eos = 1 if self.count_eos else 0
        for k, win in enumerate(wins):
            if spec.binarizes:
                win = _binarise(win)
            tok = self._tokenizer(spec, win.shape, c, g.num_frames)
            arg = (win, inst_wins[k]) if spec.instance_aware and inst_wins is not None else win
            _, info = tok.encode(arg, return_info=True)
            acc.lengths.append(info.full_length - 1 + eos)
            acc.shapes.add(win.shape[-2:])

    def rows(self) -> list[dict[str, Any]]:
        """One row per (scheme, geometry): sizes, windows, mean/max length, share over each threshold."""
        c = self.num_classes if self.num_classes is not None else max(1, self.max_label)
        out = []
        for spec, g in self.keys:
            acc = self._acc[(spec, g)]
            lengths = np.asarray(acc.lengths, dtype=np.int64)
            desc = g.describe()
            s_label = _shape_label(acc.shapes)
            binarised = spec.binarizes and self.max_label > 1
            row: dict[str, Any] = {
                "scheme": spec.label,
                "I": desc["I"],
                "P": desc["P"] if desc["P"] is not None else ("mixed" if s_label == "mixed" else None),
                "S": s_label if desc["S"] is None else desc["S"],
                "N": g.num_frames if spec.is_video else None,
                "C": 1 if spec.binarizes else c,
                "binarised": binarised,
                "windows": int(lengths.size),
                "empty": int((lengths <= (1 if self.count_eos else 0)).sum()),
                "mean": round(float(lengths.mean()), 2) if lengths.size else None,
                "max": int(lengths.max()) if lengths.size else None,
            }
            for t in self.thresholds:
                row[f"over_{t}"] = round(float((lengths > t).mean()), 6) if lengths.size else None
            row["suggested_L"] = self._suggest(lengths)
            row["V"] = self._vocab_size(spec, acc.shapes, c, g.num_frames)
            row["note"] = "masks binarised (every class -> 1)" if binarised else ""
            out.append(row)
        return out

    def _suggest(self, lengths: np.ndarray) -> int | None:
        """Smallest threshold exceeded by fewer than ``tolerance`` of the windows (the paper's highlight)."""
        if not lengths.size:
            return None
        for t in self.thresholds:
            if float((lengths > t).mean()) < self.tolerance:
                return t
        return None

    def _vocab_size(self, spec: SchemeSpec, shapes: set[tuple[int, ...]], c: int, n: int) -> int | None:
        if len(shapes) != 1:
            return None
        return self._tokenizer(spec, next(iter(shapes)), c, n).vocab.size_without_specials

    def meta(self) -> dict[str, Any]:
        """What the rows were computed with (for the JSON file)."""
        return {
            "table": "sequence lengths (paper Tables 3-6)",
            "items": self.num_items,
            "num_classes": self.num_classes if self.num_classes is not None else max(1, self.max_label),
            "num_classes_inferred": self.num_classes is None,
            "thresholds": list(self.thresholds),
            "count_eos": self.count_eos,
            "tolerance": self.tolerance,
            "over_t": "share of windows whose sequence is longer than t tokens",
            "suggested_L": f"smallest threshold exceeded by fewer than {self.tolerance:.0%} of the windows",
        }


def length_stats(
    masks: Iterable[MaskItem],
    schemes: str | Sequence[str | SchemeSpec],
    geometries: Geometry | Sequence[Geometry] = Geometry(),
    num_classes: int | None = None,
    thresholds: Sequence[int] = DEFAULT_THRESHOLDS,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Tables 3-6 over ``masks`` in one call: see :class:`LengthStats`."""
    st = LengthStats(schemes, geometries, num_classes, thresholds, **kwargs)
    for item in masks:
        st.add(item)
    return st.rows()


# ----- Tables 7-10: vocabulary sizes --------------------------------------------------------------------
def vocab_row(
    scheme: str | SchemeSpec,
    mask_size: int,
    num_classes: int,
    num_frames: int = 1,
    max_vocab: int = DEFAULT_MAX_VOCAB,
) -> dict[str, Any]:
    """Vocabulary of one scheme at ``S``, ``C``, ``N`` (N ignored by static schemes), by range.

    ``starts`` sums the start ranges (1-D starts or 2-D coordinates), ``lengths`` the length range, and
    ``class_tokens`` every other non-special range (class, LAC, TAC, LTAC, stuff ... tokens), as the paper's
    columns do. ``V`` excludes the special tokens; ``over_limit`` is ``V >= max_vocab``.
    """
    spec = SchemeSpec.parse(scheme)
    tok = spec.build(mask_size, num_classes, num_frames)
    sizes = {r.name: r.size for r in tok.vocab if r.name not in _SPECIAL_NAMES}
    v = tok.vocab.size_without_specials
    binarised = spec.binarizes and num_classes > 1
    return {
        "scheme": spec.label,
        "S": mask_size,
        "C": 1 if spec.binarizes else num_classes,
        "N": num_frames if spec.is_video else None,
        "starts": sum(n for name, n in sizes.items() if name in START_RANGES),
        "lengths": sum(n for name, n in sizes.items() if name in LENGTH_RANGES),
        "class_tokens": sum(n for name, n in sizes.items() if name not in START_RANGES + LENGTH_RANGES),
        "V": v,
        "V_with_specials": tok.vocab_size,
        "over_limit": v >= max_vocab,
        "ranges": " ".join(f"{name}={n}" for name, n in sizes.items()),
        "note": f"binarised (C={num_classes} -> 1)" if binarised else "",
    }


def vocab_table(
    schemes: str | Sequence[str | SchemeSpec],
    mask_sizes: Sequence[int] | int,
    num_classes: Sequence[int] | int,
    frames: Sequence[int] | int = (2,),
    max_vocab: int = DEFAULT_MAX_VOCAB,
) -> list[dict[str, Any]]:
    """Tables 7-10: one :func:`vocab_row` per scheme, S, C and N (static schemes once per S and C).

    Order: S, then C, then N, then scheme, so each block reads like one half of the paper's tables.
    """
    specs = parse_schemes(schemes)
    ss = [mask_sizes] if isinstance(mask_sizes, int) else list(mask_sizes)
    cs = [num_classes] if isinstance(num_classes, int) else list(num_classes)
    ns = [frames] if isinstance(frames, int) else list(frames)
    rows: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for s in ss:
        for c in cs:
            for n in ns:
                for spec in specs:
                    key = (spec, s, c, n if spec.is_video else None)
                    if key in seen:
                        continue
                    seen.add(key)
                    rows.append(vocab_row(spec, s, c, n, max_vocab))
    return rows


# ----- Table 11: metric loss caused by subsampling ------------------------------------------------------
@dataclass
class _LossAcc:
    windows: int = 0
    empty: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    shapes: set[tuple[int, ...]] = field(default_factory=set)
    pooled: np.ndarray = field(default_factory=lambda: np.zeros((1, 1), dtype=np.int64))

    def pool(self, cm: np.ndarray) -> None:
        """Add a window's confusion matrix to the pooled one (grown to the larger label count)."""
        k = max(self.pooled.shape[0], cm.shape[0])
        grown = np.zeros((k, k), dtype=np.int64)
        grown[: self.pooled.shape[0], : self.pooled.shape[1]] += self.pooled
        grown[: cm.shape[0], : cm.shape[1]] += cm
        self.pooled = grown


_LOSS_KEYS = ("recall", "precision", "dice", "recall_agnostic", "precision_agnostic", "dice_agnostic")
_POOLED_KEYS = ("dice_pooled", "dice_agnostic_pooled")


class SubsamplingLoss:
    """Table 11: how much subsampling windows from P to S degrades them, as segmentation metrics.

    For every window (size P after resizing to I), the prediction is ``upsample(subsample(window, P/S))``
    and the ground truth the window itself. Recall, precision (per-class IoU, paper eq. 2) and dice are
    averaged over the foreground classes present in the window, then over windows; windows without
    foreground are counted in ``empty`` and left out. ``*_agnostic`` merge all classes into one.
    ``dice_pooled`` and ``dice_agnostic_pooled`` are scored as ``rleseg evaluate`` scores a dataset: one
    confusion matrix summed over every window (empty ones included), mean Dice over the classes present.
    These are the metrics *retained*: 1.0 means subsampling lost nothing. Videos count every frame as one
    mask. Instances are ignored.
    """

    def __init__(self, geometries: Geometry | Sequence[Geometry] = Geometry(), num_classes: int | None = None):
        geos = [geometries] if isinstance(geometries, Geometry) else list(geometries)
        self.geometries: list[Geometry] = []
        for g in geos:
            if g.static not in self.geometries:
                self.geometries.append(g.static)
        self.num_classes = num_classes
        self._acc = {g: _LossAcc() for g in self.geometries}
        self.num_items = 0

    def add(self, item: MaskItem) -> None:
        """Add one mask ``(H, W)``, video ``(T, H, W)`` or ``(mask, instances)`` pair."""
        mask, _ = _split_item(item)
        _max_label(mask, self.num_classes)
        self.num_items += 1
        frames = list(mask) if mask.ndim == 3 else [mask]
        for g in self.geometries:
            acc = self._acc[g]
            for frame in frames:
                for tile in g.tiles(g.resize(frame)):
                    acc.shapes.add(tile.shape[-2:])
                    self._score(acc, tile, g.back_to_window(g.to_mask_size(tile), tile.shape[-2:]))

    @staticmethod
    def _score(acc: _LossAcc, gt: np.ndarray, pred: np.ndarray) -> None:
        acc.windows += 1
        top = int(gt.max()) if gt.size else 0
        if top == 0:  # no foreground: the subsampled window has none either
            acc.empty += 1
            acc.pool(np.array([[gt.size]], dtype=np.int64))
            return
        cm = confusion_matrix(gt, pred, top)
        acc.pool(cm)
        agn = class_agnostic(cm)
        scores = {
            "recall": mean_recall(cm),
            "precision": mean_precision(cm),
            "dice": mean_dice(cm),
            "recall_agnostic": mean_recall(agn),
            "precision_agnostic": mean_precision(agn),
            "dice_agnostic": mean_dice(agn),
        }
        for key, value in scores.items():
            acc.sums[key] = acc.sums.get(key, 0.0) + value

    def rows(self) -> list[dict[str, Any]]:
        """One row per geometry: I, P, S, the factor P/S, windows scored, and the mean metrics (0..1)."""
        out = []
        for g in self.geometries:
            acc = self._acc[g]
            desc = g.describe()
            scored = acc.windows - acc.empty
            p = desc["P"] if desc["P"] is not None else _shape_label(acc.shapes)
            s = g.mask_size if g.mask_size is not None else p
            row: dict[str, Any] = {
                "I": desc["I"],
                "P": p,
                "S": s,
                "factor": (p / s if p % s else p // s) if isinstance(p, int) and isinstance(s, int) else None,
                "windows": acc.windows,
                "empty": acc.empty,
            }
            for key in _LOSS_KEYS:
                row[key] = round(acc.sums[key] / scored, 6) if scored else None
            has_fg = acc.pooled.shape[0] > 1 and bool(acc.pooled[1:].sum())
            row["dice_pooled"] = round(mean_dice(acc.pooled), 6) if has_fg else None
            row["dice_agnostic_pooled"] = round(mean_dice(class_agnostic(acc.pooled)), 6) if has_fg else None
            out.append(row)
        return out

    def meta(self) -> dict[str, Any]:
        """What the rows were computed with (for the JSON file)."""
        return {
            "table": "metrics retained after subsampling (paper Table 11; 1.0 = nothing lost)",
            "items": self.num_items,
            "metrics": "mean over windows of the mean over present foreground classes; precision is IoU; "
            "*_pooled: one confusion matrix over all windows, as rleseg evaluate scores",
        }


def subsampling_loss(
    masks: Iterable[MaskItem],
    geometries: Geometry | Sequence[Geometry] = Geometry(),
    num_classes: int | None = None,
) -> list[dict[str, Any]]:
    """Table 11 over ``masks`` in one call: see :class:`SubsamplingLoss`."""
    loss = SubsamplingLoss(geometries, num_classes)
    for item in masks:
        loss.add(item)
    return loss.rows()


# ----- writing tables -----------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write rows as CSV (columns: every key, in first-seen order; None as an empty cell)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in _jsonable(row).items()})
    return path


def write_json(rows: Sequence[dict[str, Any]], path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``{"meta": ..., "rows": [...]}`` as indented JSON (NaN written as null)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"meta": _jsonable(meta or {}), "rows": _jsonable(list(rows))}
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path
