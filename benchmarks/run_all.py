"""Run every benchmark module (``benchmarks/bench_*.py``), print its tables and write its JSON results.

Usage: ``python -m benchmarks.run_all [--quick] [--only NAME ...] [--seeds K]`` (``make bench`` runs it in
full; ``make bench BENCH_ARGS="--only quality --seeds 3"`` passes options).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import sys
import time
from types import ModuleType

import benchmarks
from benchmarks.common import BenchResult, print_tables, write_results


def discover() -> list[ModuleType]:
    """The benchmark modules, in name order: every ``benchmarks.bench_*`` with ``NAME`` and ``run``."""
    mods = []
    for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda i: i.name):
        if info.name.startswith("bench_"):
            mod = importlib.import_module(f"benchmarks.{info.name}")
            if hasattr(mod, "NAME") and hasattr(mod, "run"):
                mods.append(mod)
    return mods


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (1 when a benchmark failed)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats (a smoke run)")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME", help="benchmark NAMEs to run")
    parser.add_argument(
        "--seeds", type=int, default=1, metavar="K", help="seeds per training, for benchmarks that train (quality)"
    )
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be 1 or more, got {args.seeds}")
    failed = []
    for mod in discover():
        if args.only and mod.NAME not in args.only:
            continue
        print(f"== {mod.NAME} ({mod.__name__})", flush=True)
        t0 = time.perf_counter()
        try:
            kwargs = {"seeds": args.seeds} if "seeds" in inspect.signature(mod.run).parameters else {}
            result: BenchResult = mod.run(quick=args.quick, **kwargs)
        except Exception as err:  # keep going: one broken benchmark must not hide the others
            print(f"!! {mod.NAME} failed: {type(err).__name__}: {err}", file=sys.stderr)
            failed.append(mod.NAME)
            continue
        elapsed = time.perf_counter() - t0
        print_tables(result.tables)
        for note in result.notes:
            print(f"  note: {note}")
        path = write_results(result, elapsed_s=elapsed)
        print(f"   {elapsed:.1f}s; results in {path}", flush=True)
    if failed:
        print(f"failed benchmarks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
