"""Vectorised pieces of the grouped schemes (``cw``, ``iw``): runs of a pair of label arrays, runs put in
group order, token blocks interleaved with one terminator per group, and truncation at group boundaries.

Every function here makes a fixed number of numpy calls whatever the number of groups (the one exception:
a random run order draws one permutation per group, in the order the former loop drew them, so a seeded
tokenizer keeps its shuffles). See ``benchmarks/bench_tokenizer.py`` for the timings.
"""

from __future__ import annotations

import numpy as np


def pair_runs(a: np.ndarray, b: np.ndarray, line_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Runs over which both flat integer arrays ``a`` and ``b`` are constant, cut at line ends, keeping the
    runs where ``a`` or ``b`` is non-zero.

    ``a``, ``b``: ``(n,)`` arrays, ``n`` a multiple of ``line_len``. Returns ``(starts, lengths, a_values,
    b_values)``, four int64 arrays of shape ``(R,)`` in increasing start order.
    """
    n = a.size
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy(), empty.copy()
    change = np.empty(n + 1, dtype=np.bool_)
    np.not_equal(a[1:], a[:-1], out=change[1:n])
    change[1:n] |= b[1:] != b[:-1]
    change[::line_len] = True
    change[n] = True
    bounds = change.nonzero()[0]  # (B + 1,): run starts, then n
    a_vals = a.take(bounds[:-1])
    b_vals = b.take(bounds[:-1])
    idx = ((a_vals != 0) | (b_vals != 0)).nonzero()[0]
    starts = bounds.take(idx)
    lengths = bounds.take(idx + 1) - starts
    return starts, lengths, a_vals.take(idx).astype(np.int64), b_vals.take(idx).astype(np.int64)


def order_groups(
    labels: np.ndarray, first_pixel: bool, rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order of the runs when grouped by label.

    ``labels``: ``(R,)`` group label of each run, runs in increasing start order. Groups come
    in the order of their first run (``first_pixel``) or of their label; runs inside a group by start.
    With ``rng`` the groups are shuffled (``rng.permutation(G)``), then the runs of each group, in the
    new group order (one ``rng.permutation(size)`` per group).
    Returns ``(run_order (R,), counts (G,), first (G,))``: indices of the runs in output order, the
    number of runs of each group in output order, and the index of one run of each group.
    """
    r = labels.size
    by_label = np.argsort(labels, kind="stable")  # groups by label, runs in start order inside
    sorted_labels = labels.take(by_label)
    new_group = np.empty(r, dtype=np.bool_)
    new_group[:1] = True
    np.not_equal(sorted_labels[1:], sorted_labels[:-1], out=new_group[1:])
    heads = new_group.nonzero()[0]  # (G,) position in by_label of each group's first run
    counts = np.diff(heads, append=r)
    if first_pixel:
        perm = np.argsort(by_label.take(heads))  # the first run's index orders groups by first pixel
        heads, counts = heads.take(perm), counts.take(perm)
    if rng is not None:
        perm = rng.permutation(heads.size)
        heads, counts = heads.take(perm), counts.take(perm)
        within = np.concatenate([rng.permutation(c) for c in counts.tolist()]) if r else np.zeros(0, np.int64)
    else:
        within = np.arange(r) - np.repeat(np.cumsum(counts) - counts, counts)
    return by_label.take(np.repeat(heads, counts) + within), counts, by_label.take(heads)


def interleave(rows: np.ndarray, counts: np.ndarray, terminators: np.ndarray) -> np.ndarray:
    """Token rows of the runs, group after group, each group followed by its terminator token.

    ``rows``: ``(R, k)`` tokens in output order; ``counts``: ``(G,)`` runs per group; ``terminators``:
    ``(G,)``. Returns the ``(R * k + G,)`` int64 body.
    """
    r, k = rows.shape
    g = counts.size
    body = np.empty(r * k + g, dtype=np.int64)
    ends = np.cumsum(counts)  # runs up to and including each group
    term_pos = ends * k + np.arange(g)
    is_run = np.ones(body.size, dtype=np.bool_)
    is_run[term_pos] = False
    body[is_run] = rows.reshape(-1)
    body[term_pos] = terminators
    return body


def truncate_groups(body: np.ndarray, is_term: np.ndarray, k: int, budget: int) -> tuple[np.ndarray, int]:
    """Longest prefix of whole groups within ``budget`` tokens, plus as many whole runs of the next group
    as fit before its terminator (when at least one does). Returns ``(tokens, runs kept)``.

    ``body``: ``(T,)`` groups of ``k``-token runs each closed by a terminator (``is_term``, ``(T,)``).
    """
    term_pos = is_term.nonzero()[0]
    ends = term_pos + 1  # tokens used once the group is closed
    whole = int(np.searchsorted(ends, budget, side="right"))  # groups that fit entirely
    used = int(ends[whole - 1]) if whole else 0
    runs = (used - whole) // k
    if whole == term_pos.size:
        return body[:used].copy(), runs
    fit = (budget - used - 1) // k
    if fit < 1:
        return body[:used].copy(), runs
    pos = int(term_pos[whole])
    out = np.concatenate([body[: used + fit * k], body[pos : pos + 1]])
    return out, runs + fit
