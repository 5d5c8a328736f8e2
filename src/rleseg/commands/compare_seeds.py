"""``rleseg compare ... --seeds K``: the whole comparison K times, each config trained with its own
``train.seed`` + k, and every model's scores as a mean and spread over the seeds, with its ratio to the reference.

One run per model can mislead on a small test split (on 6 H&E tiles, one config's class-agnostic Dice spread
over 15 points between runs of the same code). Seed k's comparison is a whole ``rleseg compare`` in
``OUT/seed-<k>/`` (its runs, evaluations, ``comparison.json`` and ``comparison.html``; a checkpoint input is
evaluated in each, with the same scores). Then, atomically:

- ``OUT/seeds.json``: ``data``, ``split``, ``num_images``, ``seeds`` (the offsets k), ``reference``, ``budget``,
  ``comparisons`` (each seed's folder), ``models`` (each: ``name``, ``family``, ``values``: per flat key of
  comparison.json, ``{"values": per seed, "mean", "sd" (sample, None for one value), "min", "max"}`` over the
  known values; ``ratio``: per key, ``{"values": model / reference per seed, "mean": their mean, "of_means":
  the model's mean / the reference's mean}``, None where undefined; the reference has no ``ratio``);
- ``OUT/seeds.png``: per model the seeds' class-agnostic Dice, mean Dice and mIoU as dots and their mean;
- the terminal table: a row per model, mean ± sd, and under each other model its ratios to the reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rleseg.commands.common import CommandError, OptionError, stdout

SEED_COLUMNS: tuple[tuple[str, str, str], ...] = (  # (flat key, label, kind: score in % or count)
    ("class_agnostic.dice", "agnostic Dice", "score"),
    ("mean.dice", "mean Dice", "score"),
    ("miou", "mIoU", "score"),
    ("steps", "steps", "count"),
)
CHART_KEYS: tuple[tuple[str, str], ...] = (
    ("class_agnostic.dice", "class-agnostic Dice"),
    ("mean.dice", "mean Dice"),
    ("miou", "mIoU"),
)


@dataclass
class SeedComparison:
    """What :func:`compare_seeds` wrote: the ``seeds.json`` dict, its path, the chart's, and how many samples
    could not be scored over all seeds."""

    report: dict[str, Any]
    json_path: Path
    chart_path: Path
    problems: int


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """``{"values", "mean", "sd", "min", "max"}`` of the known (not None, finite) ``values``; ``sd`` is the
    sample standard deviation (None below two values); all None when nothing is known."""
    known = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    out: dict[str, Any] = {"values": list(values), "mean": None, "sd": None, "min": None, "max": None}
    if known:
        mean = sum(known) / len(known)
        out.update(mean=mean, min=min(known), max=max(known))
        if len(known) > 1:
            out["sd"] = math.sqrt(sum((v - mean) ** 2 for v in known) / (len(known) - 1))
    return out


def _ratio(a: Any, b: Any) -> float | None:
    return None if a is None or b is None or float(b) == 0 else float(a) / float(b)


def summarize(comparisons: Sequence[dict[str, Any]], seeds: Sequence[int]) -> dict[str, Any]:
    """The ``seeds.json`` dict (module docstring) of one ``comparison.json`` dict per seed, same models in each."""
    first = comparisons[0]
    ref = first["reference"]
    names = [m["name"] for m in first["models"]]
    per_seed = [{m["name"]: m for m in c["models"]} for c in comparisons]
    models = []
    for name in names:
        keys = list(dict.fromkeys(k for run in per_seed for k in run[name]["values"]))
        rows = [run[name]["values"] for run in per_seed]
        values = {k: spread([row.get(k) for row in rows]) for k in keys}
        model: dict[str, Any] = {"name": name, "family": per_seed[0][name]["family"], "values": values}
        if name != ref:
            refs = [run[ref]["values"] for run in per_seed]
            model["ratio"] = {}
            for k in keys:
                ratios = [_ratio(row.get(k), r.get(k)) for row, r in zip(rows, refs, strict=True)]
                known = [r for r in ratios if r is not None]
                ref_mean = spread([r.get(k) for r in refs])["mean"]
                model["ratio"][k] = {
                    "values": ratios,
                    "mean": sum(known) / len(known) if known else None,
                    "of_means": _ratio(values[k]["mean"], ref_mean),
                }
        models.append(model)
    return {
        "data": first["data"],
        "split": first["split"],
        "num_images": first["num_images"],
        "seeds": list(seeds),
        "reference": ref,
        "budget": {k: v for k, v in first["budget"].items() if k != "seed_offset"},
        "models": models,
    }


def mean_sd_text(s: dict[str, Any] | None, kind: str, empty: str = "–", thousands: str = ",") -> str:
    """A ``spread`` dict as "mean ± sd" text: scores (``kind`` "score") in % with 2 decimals, costs as whole
    numbers with ``thousands`` separators ("" for none); ``empty`` when there is no mean."""
    if s is None or s["mean"] is None:
        return empty
    scale, digits = (100.0, 2) if kind == "score" else (1.0, 0)
    text = f"{scale * s['mean']:{thousands}.{digits}f}"
    return text if s["sd"] is None else f"{text} ± {scale * s['sd']:{thousands}.{digits}f}"


def seeds_table(report: dict[str, Any]) -> Table:
    """A row per model (mean ± sd over the seeds, scores in %), under every other model its ratio to the
    reference: of the means, and per seed."""
    ref = report["reference"]
    n = len(report["seeds"])
    table = Table(
        title=f"{n} seeds on {report['data']} ({report['num_images']} images; mean ± sd, ratio to {ref})",
        title_justify="left",
    )
    table.add_column("model", justify="left")
    for _, label, _ in SEED_COLUMNS:
        table.add_column(label, justify="right")
    for m in report["models"]:
        mark = " (ref)" if m["name"] == ref else ""
        table.add_row(
            escape(m["name"] + mark), *(mean_sd_text(m["values"].get(k), kind) for k, _, kind in SEED_COLUMNS)
        )
        if "ratio" in m:
            cells = []
            for k, _, _ in SEED_COLUMNS:
                r = m["ratio"].get(k, {"values": [], "of_means": None})
                seeds = ", ".join("–" if v is None else f"{v:.2f}" for v in r["values"])
                cells.append("–" if r["of_means"] is None else f"{r['of_means']:.2f}x ({seeds})")
            table.add_row(f"  / {escape(ref)}", *cells, style="dim")
    return table


def seeds_chart(report: dict[str, Any]) -> bytes:
    """PNG bytes: a panel per score of :data:`CHART_KEYS`, per model a dot per seed and a line at the mean (%)."""
    from rleseg.report.charts import seed_dots

    models = {m["name"]: {k: m["values"].get(k, spread([]))["values"] for k, _ in CHART_KEYS} for m in report["models"]}
    return seed_dots(models, CHART_KEYS, f"% ({len(report['seeds'])} seeds; line: mean)")


def compare_seeds(
    inputs: Sequence[Path],
    data: Path,
    out: Path,
    *,
    seeds: int,
    overwrite: bool = False,
    console: Console | None = None,
    **options: Any,
) -> SeedComparison:
    """``compare`` (``options``: its keyword options) once per seed offset ``0 .. seeds-1`` into
    ``OUT/seed-<k>``; then ``OUT/seeds.json``, ``OUT/seeds.png`` and the table (module docstring)."""
    from rleseg.atomic import atomic_path
    from rleseg.commands.compare import compare, plan
    from rleseg.metrics.report import write_metrics_json

    con = console or stdout()
    if seeds < 1:
        raise OptionError(f"must be 1 or more, got {seeds}", "--seeds")
    if (out / "seeds.json").exists() and not overwrite:
        raise CommandError(f"{out / 'seeds.json'} already exists; pass --overwrite to compare again in {out}")
    plan_options = {k: options[k] for k in ("names", "overrides", "minutes", "reference", "device") if k in options}
    for k in range(seeds):  # every seed's folder checked before the first trains
        plan(inputs, data, out / f"seed-{k}", overwrite=overwrite, seed_offset=k, **plan_options)
    reports, problems = [], 0
    for k in range(seeds):
        con.rule(f"seed {k + 1} of {seeds}: every config's train.seed + {k} -> {out / f'seed-{k}'}")
        done = compare(inputs, data, out / f"seed-{k}", seed_offset=k, overwrite=overwrite, console=con, **options)
        reports.append(done.report)
        problems += done.problems
    report = summarize(reports, range(seeds))
    report["comparisons"] = [str(out / f"seed-{k}" / "comparison.json") for k in range(seeds)]
    chart = out / "seeds.png"
    with atomic_path(chart) as tmp:
        tmp.write_bytes(seeds_chart(report))
    json_path = write_metrics_json(report, out / "seeds.json")
    con.print(seeds_table(report))
    con.print(f"wrote [bold]{escape(str(json_path))}[/bold] and [bold]{escape(str(chart))}[/bold]", soft_wrap=True)
    return SeedComparison(report, json_path, chart, problems)
