"""Shared test helpers: the hypothesis profile, every tokenizer configuration, and mask generators.

Masks are drawn as a small hypothesis description (shape, number of classes, kind, seed) and then built
with numpy, which keeps hundreds of examples fast while hypothesis still shrinks sizes and class counts.
Kinds: ``noisy`` (independent pixels, random density), ``blobby`` (a few filled rectangles and disks),
``blocks`` (a coarse random grid upsampled, so runs are long and touch line ends), ``lines`` (full rows or
columns) and ``empty`` / ``full``.

Test modules import from here: ``from tests.conftest import CONFIGS, masks, ...``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

from rleseg.tokenizers import Tokenizer, create_tokenizer, list_tokenizers

settings.register_profile("rleseg", deadline=None, print_blob=True)
settings.load_profile("rleseg")


def pytest_configure(config: Any) -> None:
    """One torch thread per test process: the test models are tiny and gain nothing from intra-op threads,
    while `make test` already runs 2 processes on 2 cores; 2 threads each oversubscribe the cores (measured
    on a loaded 2-core machine: a tiny overfit loop took 19 s with 2 threads, 2.3 s with 1)."""
    import torch

    torch.set_num_threads(1)


VIDEO_SCHEMES = ("3d-c", "3d-f", "tac", "ltac")
GROUPED_SCHEMES = ("cw", "iw")
CUMULATIVE_SCHEMES = ("bac", "diff")
MASK_KINDS = ("noisy", "blobby", "blocks", "lines", "empty", "full")


# ----- tokenizer configurations ------------------------------------------------------------------------
def scheme_options(name: str) -> list[dict[str, Any]]:
    """Every combination of the scheme's discrete options (not mask size, classes or frames)."""
    orders = ("row", "col")
    starts = ("1d", "2d")
    run_orders = ("raster", "random")
    if name == "bac":
        return [{"order": o, "classes": c} for o in orders for c in ("token", "lac")]
    if name == "diff":
        return [{"order": o, "starts": s} for o in orders for s in starts]
    combos = [{"order": o, "starts": s, "run_order": r} for o in orders for s in starts for r in run_orders]
    if name in ("3d-c", "3d-f"):
        combos = [dict(c, classes=k) for c in combos for k in ("token", "lac")]
    return combos


def all_configs() -> list[tuple[str, dict[str, Any]]]:
    """``(scheme, options)`` for every registered scheme and every option combination."""
    return [(name, opts) for name in list_tokenizers() for opts in scheme_options(name)]


def config_id(name: str, opts: dict[str, Any]) -> str:
    return "-".join([name, *(str(v) for v in opts.values())])


CONFIGS = all_configs()
CONFIG_IDS = [config_id(n, o) for n, o in CONFIGS]


def frame_choices(name: str) -> tuple[int, ...]:
    """Frame counts worth testing for a scheme (1 means a static ``(H, W)`` mask)."""
    if name in VIDEO_SCHEMES:
        return (2, 3)
    if name in GROUPED_SCHEMES:
        return (1, 2)
    return (1,)


def class_choices(name: str) -> tuple[int, ...]:
    return (1,) if name == "binary" else (1, 2, 3, 5)


def make_tokenizer(
    name: str,
    opts: dict[str, Any],
    shape: tuple[int, int],
    num_classes: int,
    num_frames: int = 1,
    **extra: Any,
) -> Tokenizer:
    """Build a scheme, passing ``num_frames`` only where it is accepted."""
    kw: dict[str, Any] = dict(opts, mask_size=shape, num_classes=num_classes, **extra)
    if name in VIDEO_SCHEMES or num_frames > 1:
        kw["num_frames"] = num_frames
    return create_tokenizer(name, **kw)


# ----- mask generators (pure numpy, seeded) ------------------------------------------------------------
def make_mask(shape: tuple[int, ...], num_classes: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """A label array of ``shape`` (``(H, W)`` or ``(N, H, W)``) with values in ``[0, num_classes]``."""
    if len(shape) == 3:  # a video: frames that move a little (blobby) or are unrelated (noisy)
        return np.stack([make_mask(shape[1:], num_classes, kind, rng) for _ in range(shape[0])])
    h, w = shape
    if kind == "empty":
        return np.zeros(shape, dtype=np.int64)
    if kind == "full":
        return np.full(shape, rng.integers(1, num_classes + 1), dtype=np.int64)
    if kind == "noisy":
        density = rng.random()
        return rng.integers(1, num_classes + 1, size=shape) * (rng.random(shape) < density)
    if kind == "blocks":
        bh, bw = rng.integers(1, h + 1), rng.integers(1, w + 1)
        coarse = rng.integers(0, num_classes + 1, size=(-(-h // bh), -(-w // bw)))
        return np.repeat(np.repeat(coarse, bh, axis=0), bw, axis=1)[:h, :w].astype(np.int64)
    if kind == "lines":
        mask = np.zeros(shape, dtype=np.int64)
        if rng.random() < 0.5:
            rows = rng.random(h) < 0.5
            mask[rows] = rng.integers(1, num_classes + 1, size=(int(rows.sum()), 1))
        else:
            cols = rng.random(w) < 0.5
            mask[:, cols] = rng.integers(1, num_classes + 1, size=(1, int(cols.sum())))
        return mask
    if kind == "blobby":
        mask = np.zeros(shape, dtype=np.int64)
        yy, xx = np.mgrid[:h, :w]
        for _ in range(rng.integers(1, 5)):
            cls = rng.integers(1, num_classes + 1)
            cy, cx = rng.integers(0, h), rng.integers(0, w)
            ry, rx = rng.integers(0, max(h // 2, 1) + 1), rng.integers(0, max(w // 2, 1) + 1)
            if rng.random() < 0.5:
                blob = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
            else:
                blob = ((yy - cy) / (ry + 0.5)) ** 2 + ((xx - cx) / (rx + 0.5)) ** 2 <= 1
            mask[blob] = cls
        return mask
    raise ValueError(f"unknown mask kind {kind!r}")


def make_instances(mask: np.ndarray, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Instances for a class mask: each foreground pixel is stuff (0) or one of a few instances whose ids
    are large and shuffled; an instance never covers background nor spans two classes."""
    k = make_mask(mask.shape, 3, "blocks" if rng.random() < 0.5 else "noisy", rng)  # 0 stuff, 1..3 slots
    raw = np.where((mask > 0) & (k > 0), k * (num_classes + 1) + mask, 0)
    ids = np.unique(raw[raw > 0])
    relabel = dict(zip(ids.tolist(), (rng.permutation(ids.size) * 7 + 1000).tolist(), strict=True))
    out = np.zeros_like(raw)
    for old, new in relabel.items():
        out[raw == old] = new
    return out


@st.composite
def masks(
    draw: st.DrawFn,
    num_classes: int | st.SearchStrategy[int] = 3,
    frames: int = 1,
    max_side: int = 9,
    kinds: tuple[str, ...] = MASK_KINDS,
) -> np.ndarray:
    """A random ``(H, W)`` mask (``(frames, H, W)`` when ``frames > 1``) with 1xN and Nx1 sizes included."""
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    c = draw(num_classes) if isinstance(num_classes, st.SearchStrategy) else num_classes
    kind = draw(st.sampled_from(kinds))
    seed = draw(st.integers(0, 2**32 - 1))
    shape = (frames, h, w) if frames > 1 else (h, w)
    return make_mask(shape, c, kind, np.random.default_rng(seed))


@st.composite
def tokenizer_and_input(draw: st.DrawFn, name: str, opts: dict[str, Any], **extra: Any) -> tuple[Tokenizer, Any]:
    """A tokenizer of ``name`` with ``opts`` (and ``extra``) at the drawn mask's size, and an input for it."""
    num_classes = draw(st.sampled_from(class_choices(name)))
    frames = draw(st.sampled_from(frame_choices(name)))
    mask = draw(masks(num_classes=num_classes, frames=frames))
    seed = draw(st.integers(0, 99))
    tok = make_tokenizer(name, opts, mask.shape[-2:], num_classes, frames, seed=seed, **extra)
    return tok, encode_input(tok, mask, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))


# ----- comparisons -------------------------------------------------------------------------------------
def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two instance arrays are the same partition up to renumbering, with 0 staying 0."""
    pairs = np.unique(np.stack([a.reshape(-1), b.reshape(-1)]).astype(np.int64), axis=1)
    left, right = pairs
    return (
        np.unique(left).size == left.size
        and np.unique(right).size == right.size
        and bool(np.all((left == 0) == (right == 0)))
    )


def encode_input(tok: Tokenizer, mask: np.ndarray, rng: np.random.Generator | None = None) -> Any:
    """The argument ``tok.encode`` takes for ``mask``: the mask, or ``(mask, instances)`` for ``iw``."""
    if tok.instance_aware:
        return mask, make_instances(mask, tok.num_classes, rng or np.random.default_rng(0))
    return mask


def assert_roundtrip(tok: Tokenizer, x: Any, tokens: np.ndarray) -> None:
    """``tokens`` (an encoding of ``x``) decode back to ``x`` exactly, with nothing dropped."""
    out, info = tok.decode(tokens, return_info=True)
    assert info.num_dropped == 0, dict(info.dropped)
    assert info.stopped_at == "eos"
    assert info.overlaps == 0
    if tok.instance_aware:
        (mask, inst), (mask2, inst2) = x, out
        assert mask2.shape == mask.shape
        np.testing.assert_array_equal(mask2, mask)
        assert same_partition(inst, inst2), (inst, inst2)
    else:
        assert out.shape == x.shape
        np.testing.assert_array_equal(out, x)
