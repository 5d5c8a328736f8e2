"""Shared helpers of every benchmark: interleaved timing, machine and commit info, tables and JSON results.

A benchmark module exposes ``NAME`` (a short identifier, also the JSON file name) and ``run(quick)``
returning a :class:`BenchResult`; ``benchmarks.run_all`` finds the modules, prints their tables and writes
``benchmarks/results/<NAME>.json``. Timings are wall-clock per call; the machines are shared and noisy, so
compare the ratios of functions timed side by side in one :func:`time_interleaved` call, not absolute times
across runs.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one function: best and median over ``repeat`` rounds of ``number`` calls."""

    min_s: float
    median_s: float
    number: int
    repeat: int

    @property
    def min_us(self) -> float:
        """Best time per call in microseconds."""
        return self.min_s * 1e6

    @property
    def median_us(self) -> float:
        """Median time per call in microseconds."""
        return self.median_s * 1e6

    def to_dict(self) -> dict[str, float | int]:
        """JSON-ready form, times in microseconds."""
        return {"min_us": self.min_us, "median_us": self.median_us, "number": self.number, "repeat": self.repeat}


def _calls_for(func: Callable[[], object], target_s: float) -> int:
    """How many calls of ``func`` take about ``target_s`` seconds (at least 1), like timeit's autorange."""
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            func()
        elapsed = time.perf_counter() - t0
        if elapsed >= target_s / 4 or number >= 1 << 20:
            return max(1, int(number * target_s / max(elapsed, 1e-9)))
        number *= 4


def time_interleaved(
    funcs: dict[str, Callable[[], object]], *, repeat: int = 15, target_s: float = 0.01
) -> dict[str, Timing]:
    """Time every function of ``funcs`` side by side so that machine noise hits all of them alike.

    Each of ``repeat`` rounds runs every function ``number`` times (``number`` chosen per function so a
    round takes about ``target_s`` seconds), visiting the functions in a rotated order each round.
    Returns ``{name: Timing}`` with the best and median seconds per call over the rounds. On a shared,
    loaded machine prefer many short rounds (a few ms, about one scheduler slice): the best round is then
    likely to have run undisturbed for every function.
    """
    names = list(funcs)
    for name in names:  # warm-up: caches, lazy imports, first-call allocations
        funcs[name]()
    numbers = {name: _calls_for(funcs[name], target_s) for name in names}
    samples: dict[str, list[float]] = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeat):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                func, number = funcs[name], numbers[name]
                t0 = time.perf_counter()
                for _ in range(number):
                    func()
                samples[name].append((time.perf_counter() - t0) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: Timing(min(samples[name]), statistics.median(samples[name]), numbers[name], repeat) for name in names}


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """Platform, CPU count and the versions that matter for speed (python, numpy, torch, pycocotools)."""
    import numpy as np

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "torch": _version("torch"),
        "pycocotools": _version("pycocotools"),
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    if hasattr(os, "getloadavg"):
        info["load_avg_1min"] = os.getloadavg()[0]
    return info


def git_commit() -> dict[str, Any]:
    """The checked-out commit and whether the working tree has uncommitted changes (None outside git)."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status)}


@dataclass
class Table:
    """One printed table: a title, column names and rows of cells (numbers or strings)."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    caption: str | None = None

    def add(self, *cells: Any) -> None:
        """Append one row; it must have one cell per column."""
        if len(cells) != len(self.columns):
            raise ValueError(f"table {self.title!r}: row has {len(cells)} cells, expected {len(self.columns)}")
        self.rows.append(list(cells))


@dataclass
class BenchResult:
    """What a benchmark returns: tables to print and ``records`` (any JSON-ready data) to store."""

    name: str
    tables: list[Table]
    records: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _fmt(cell: Any) -> str:
    if isinstance(cell, float):
        if cell != cell:  # NaN
            return "-"
        return f"{cell:.2f}" if abs(cell) < 100 else f"{cell:.0f}"
    return str(cell)


def print_tables(tables: Sequence[Table]) -> None:
    """Print tables with rich (numbers right-aligned)."""
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console()
    if not console.is_terminal:  # piped or captured: do not squeeze wide tables into 80 columns
        console = Console(width=160)
    for t in tables:
        rt = RichTable(title=t.title, caption=t.caption)
        numeric = [all(isinstance(r[i], (int, float)) for r in t.rows) for i in range(len(t.columns))]
        for col, is_num in zip(t.columns, numeric, strict=True):
            rt.add_column(col, justify="right" if is_num else "left")
        for row in t.rows:
            rt.add_row(*(_fmt(c) for c in row))
        console.print(rt)


def write_results(result: BenchResult, *, elapsed_s: float | None = None, out_dir: Path | None = None) -> Path:
    """Write ``<out_dir>/<result.name>.json`` with the records, tables, machine info and git commit."""
    out_dir = RESULTS_DIR if out_dir is None else out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": result.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "elapsed_s": elapsed_s,
        "machine": machine_info(),
        "git": git_commit(),
        "params": result.params,
        "notes": result.notes,
        "records": result.records,
        "tables": [asdict(t) for t in result.tables],
    }
    path = out_dir / f"{result.name}.json"
    path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    return path


def run_standalone(run: Callable[..., BenchResult], doc: str | None, quick_help: str, argv: list[str] | None) -> int:
    """The ``python -m benchmarks.bench_<name> [--quick]`` entry point of a benchmark module: parse ``--quick``,
    call ``run(quick=...)``, print its tables and notes and write its JSON results; returns the exit status 0."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    result = run(quick=args.quick)
    elapsed = time.perf_counter() - t0
    print_tables(result.tables)
    for note in result.notes:
        print(f"  note: {note}")
    print(f"   {elapsed:.1f}s; results in {write_results(result, elapsed_s=elapsed)}")
    return 0


def _json_default(obj: Any) -> Any:
    """numpy scalars and arrays -> Python numbers and lists."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} in benchmark JSON")
