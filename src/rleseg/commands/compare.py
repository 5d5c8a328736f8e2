"""``rleseg compare CONFIG_OR_CKPT... --data DIR --out OUT``: several models, one dataset, one budget, one table.

Every YAML config gets the ``--set key=value`` overrides, then ``data.source=DIR``, ``train.out_dir=
OUT/runs/<name>``, ``train.max_time_minutes=M`` (``--minutes``; without it each keeps its own budget) and the
``--device`` as ``train.accelerator``, and is trained; its best checkpoint (by its family's validation metric:
Dice, or Mask2Former's loss; the last one when validation never ran) is evaluated. A ``.ckpt`` is evaluated
as it is: its steps are its ``global_step``, its training time what Lightning's ``Timer`` stored in it (runs
with a time budget), else unknown.

Every model is evaluated by :func:`~rleseg.commands.evaluate_checkpoint.evaluate_checkpoint` on the same split
into ``OUT/eval/<name>`` (masks, ``metrics.json``, ``report.html``); the wall time of that (loading,
prediction, scoring, writing) is its predict time. Then, atomically:

- ``OUT/comparison.json``: ``data``, ``split``, ``num_images``, ``budget``, ``reference``, ``notes``, ``models``
  (each: ``name``, ``family``, ``model``, ``kind`` (config / checkpoint), ``input``, ``checkpoint``,
  ``eval_dir``, ``problems``, ``values``: flat scores (:func:`~rleseg.report.compare_page.flat_metrics`) and
  ``steps``, ``checkpoint_step``, ``train_seconds``, ``start_choice_seconds`` (choosing
  ``generation.earliest_start`` on validation after training, when the config asks for it),
  ``predict_seconds``, ``parameters`` (None: unknown);
  ``relative``: the same keys, ``(model - reference) / reference`` as in the paper's Table 2 (None for the
  reference and where undefined); ``metrics``: its whole ``metrics.json``), and ``images``: every image's
  per-model Dice, worst first;
- the terminal tables: the summary, then per class in Table 2's layout, a relative-change row under each model;
- ``OUT/comparison.html`` (:mod:`rleseg.report.compare_page`): the tables and the ``--images`` worst images
  (lowest mean per-image Dice over the models) as image | ground truth | each model. A video: its worst frame.

Names default to the file stems (a checkpoint in ``<run>/checkpoints/``: the run's name), made unique
(``demo``, ``demo-2``); the reference defaults to the first.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from PIL import Image
from rich.console import Console
from rich.markup import escape

from rleseg.commands import train as train_cmd
from rleseg.commands.common import CommandError, OptionError, progress, stdout
from rleseg.config import Config
from rleseg.report.compare_page import SideBySide, flat_metrics, fmt_value, print_comparison, relative

CONFIG_SUFFIXES = (".yaml", ".yml")
DEFAULT_IMAGES = 12
COST_KEYS = ("steps", "checkpoint_step", "train_seconds", "start_choice_seconds", "predict_seconds", "parameters")


@dataclass
class Candidate:
    """One model to compare: ``name``, the file given, and for a config its resolved :class:`Config`
    (None: a checkpoint, evaluated as it is)."""

    name: str
    path: Path
    cfg: Config | None


@dataclass
class Comparison:
    """What :func:`compare` wrote: the ``comparison.json`` dict and the paths of it and of the page."""

    report: dict[str, Any]
    json_path: Path
    html_path: Path
    problems: int


def default_names(paths: Sequence[Path]) -> list[str]:
    """File stems, a checkpoint in ``<run>/checkpoints/`` named by its run folder, made unique by ``-2``,
    ``-3`` ... (``a.yaml runs/a/checkpoints/last.ckpt b.ckpt`` -> ``a a-2 b``)."""
    names: list[str] = []
    for p in paths:
        run = p.parent.parent.name if p.suffix.lower() == ".ckpt" and p.parent.name == "checkpoints" else ""
        base = run or p.stem or "model"
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def _check_names(names: Sequence[str], count: int, reference: str | None) -> None:
    if len(names) != count:
        raise OptionError(f"got {len(names)} name(s) for {count} input(s); give one --name per input", "--name")
    for name in names:
        if not name.strip() or name in (".", "..") or "/" in name or "\\" in name:
            raise OptionError(f"{name!r} cannot name a folder; use letters, digits, '-', '_' or '.'", "--name")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise OptionError(f"names must be unique; {', '.join(dupes)} given twice", "--name")
    if reference is not None and reference not in names:
        raise OptionError(f"unknown reference {reference!r}; the models are {', '.join(names)}", "--reference")


ACCELERATORS = {"cpu": "cpu", "cuda": "gpu", "gpu": "gpu", "auto": "auto"}


def plan(
    inputs: Sequence[Path],
    data: Path,
    out: Path,
    *,
    names: Sequence[str] | None = None,
    overrides: Sequence[str] = (),
    minutes: float | None = None,
    reference: str | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    seed_offset: int = 0,
) -> list[Candidate]:
    """Check every input and option before anything is trained; the configs resolved (their overrides, then
    ``data.source``, ``train.out_dir``, the budget, the accelerator and ``train.seed`` + ``seed_offset``).
    CommandError naming the problem."""
    if not inputs:
        raise OptionError("give at least one config (.yaml) or checkpoint (.ckpt)", "CONFIG_OR_CKPT")
    for p in inputs:
        if not p.is_file():
            raise CommandError(f"{p} does not exist" if not p.exists() else f"{p} is not a file")
        if p.suffix.lower() not in (*CONFIG_SUFFIXES, ".ckpt"):
            raise CommandError(f"{p}: expected a YAML config (.yaml, .yml) or a checkpoint (.ckpt)")
    chosen = list(names) if names else default_names(inputs)
    _check_names(chosen, len(inputs), reference)
    if not data.exists():
        raise CommandError(f"data folder {data} does not exist")
    if minutes is not None and minutes <= 0:
        raise OptionError(f"must be positive, got {minutes:g}", "--minutes")
    configs = any(p.suffix.lower() != ".ckpt" for p in inputs)
    if configs and device not in ACCELERATORS:
        raise OptionError(f"{device!r}: configs train on cpu, cuda or auto (GPU K: CUDA_VISIBLE_DEVICES=K)", "--device")
    if (out / "comparison.json").exists() and not overwrite:
        raise CommandError(f"{out / 'comparison.json'} already exists; pass --overwrite to compare again in {out}")
    plans: list[Candidate] = []
    for name, path in zip(chosen, inputs, strict=True):
        earlier = [out / "eval" / name / "metrics.json", *sorted((out / "runs" / name / "checkpoints").glob("*.ckpt"))]
        if earlier[0].exists() and not overwrite:
            raise CommandError(f"{earlier[0]} already exists; pass --overwrite to evaluate {name} again")
        if path.suffix.lower() == ".ckpt":
            plans.append(Candidate(name, path, None))
            continue
        if len(earlier) > 1 and not overwrite:
            raise CommandError(
                f"{earlier[1]} is left from an earlier comparison; pass --overwrite to train {name} again, or give "
                "that checkpoint instead of the config"
            )
        cfg = train_cmd.load(path, list(overrides))
        cfg.data.source, cfg.train.out_dir, cfg.train.resume = str(data), str(out / "runs" / name), None
        cfg.train.accelerator = ACCELERATORS[device]
        cfg.train.seed += seed_offset
        if minutes is not None:
            cfg.train.max_time_minutes = minutes
        plans.append(Candidate(name, path, cfg))
    return plans


def _model_facts(model: Any) -> dict[str, Any]:
    """Family, description and parameter count of a segmenter."""
    described = "; ".join(value for _, value in model.facts())
    return {"family": model.family, "model": described, "parameters": int(model.num_parameters)}


def _checkpoint_meta(path: Path) -> dict[str, Any]:
    """The step a checkpoint was written at and the training time Lightning's Timer stored in it (None when
    the run had no time budget, so no Timer)."""
    import torch

    try:
        raw = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception as err:  # unpickling raises many kinds of error for a file that is not a checkpoint
        raise CommandError(f"{path} is not an rleseg checkpoint ({type(err).__name__}: {err})") from None
    raw = raw if isinstance(raw, dict) else {}
    seconds = (((raw.get("callbacks") or {}).get("Timer") or {}).get("time_elapsed") or {}).get("train")
    step = raw.get("global_step")
    return {"checkpoint_step": None if step is None else int(step), "train_seconds": seconds}


def checkpoint_facts(path: Path) -> dict[str, Any]:
    """What a checkpoint tells of its model and run: ``family``, ``model`` (description), ``parameters``,
    ``steps`` (its ``global_step``, also ``checkpoint_step``) and ``train_seconds`` (None: unknown)."""
    from rleseg.segmenters.loading import load_segmenter

    try:
        model = load_segmenter(path)
    except ValueError as err:
        raise CommandError(str(err)) from None
    meta = _checkpoint_meta(path)
    return {**_model_facts(model), **meta, "steps": meta["checkpoint_step"]}


def _train(c: Candidate, position: str, overwrite: bool, con: Console) -> tuple[Path, dict[str, Any]]:
    """Fit ``c``'s config; its checkpoint (best, else last) and the facts of the run."""
    from rleseg.commands.demo_run import model_label

    cfg = cast(Config, c.cfg)
    t = cfg.train
    limits = [
        f"{t.max_time_minutes:g} min" if t.max_time_minutes else "",
        f"{t.max_steps} steps" if t.max_steps > 0 else "",
    ]
    con.print(
        f"{position} training [bold]{escape(c.name)}[/bold] ({escape(model_label(cfg))}, {escape(str(c.path))}) "
        f"for up to {', '.join(x for x in limits if x) or f'{t.epoch_limit()} epochs'} -> {escape(t.out_dir)}",
        soft_wrap=True,
    )
    result = train_cmd.fit(cfg, overwrite=overwrite)
    ckpt = result.best or result.last
    if ckpt is None or not ckpt.is_file():
        raise CommandError(
            f"{c.path}: training wrote no checkpoint in {result.out_dir / 'checkpoints'} (did it run a step? "
            "see train.max_steps / max_epochs / max_time_minutes)"
        )
    facts = {**_model_facts(result.task), **_checkpoint_meta(ckpt)}
    facts.update(steps=int(result.steps), train_seconds=float(result.seconds))
    con.print(f"  {escape(c.name)}: {result.steps:,} steps in {result.seconds:.1f} s; {escape(str(ckpt))}")
    if result.start_choice is not None:
        facts["start_choice_seconds"] = result.start_choice.seconds
        con.print(f"  {escape(c.name)}: {train_cmd.start_choice_line(result.start_choice)}", soft_wrap=True)
    return ckpt, facts


def _evaluate(
    c: Candidate, ckpt: Path, facts: dict[str, Any], data: Path, out: Path, split: str | None, device: str, **kw: Any
) -> dict[str, Any]:
    """Evaluate ``ckpt`` into ``out/eval/<name>`` (``kw``: more options of ``evaluate_checkpoint``); the
    model's entry of comparison.json, less ``relative``."""
    from rleseg.commands.evaluate_checkpoint import evaluate_checkpoint

    start = time.monotonic()
    title = f"rleseg compare: {c.name} ({ckpt.name}) on {data.name or data}"
    where = out / "eval" / c.name
    done = evaluate_checkpoint(ckpt, str(data), where, split=split, device=device, title=title, **kw)
    seconds = time.monotonic() - start
    values = {**flat_metrics(done.report), **{k: facts.get(k) for k in COST_KEYS}, "predict_seconds": seconds}
    kind = "checkpoint" if c.cfg is None else "config"
    return {
        "name": c.name,
        "family": facts["family"],
        "model": facts["model"],
        "kind": kind,
        "input": str(c.path),
        "checkpoint": str(ckpt),
        "eval_dir": str(where),
        "problems": len(done.problems),
        "values": values,
        "metrics": done.report,
    }


def compare(
    inputs: Sequence[Path],
    data: Path,
    out: Path,
    *,
    names: Sequence[str] | None = None,
    overrides: Sequence[str] = (),
    minutes: float | None = None,
    split: str | None = None,
    reference: str | None = None,
    device: str = "cpu",
    images: int = DEFAULT_IMAGES,
    overwrite: bool = False,
    seed_offset: int = 0,
    console: Console | None = None,
) -> Comparison:
    """Train the configs (each with its ``train.seed`` + ``seed_offset``) and evaluate every model on one split
    of ``data``; write ``OUT/comparison.json``, ``OUT/comparison.html`` and print the tables (module docstring)."""
    import torch

    from rleseg.commands.evaluate_checkpoint import open_data
    from rleseg.metrics.report import write_metrics_json
    from rleseg.report.compare_page import write_comparison

    con = console or stdout()
    if images < 0:
        raise OptionError(f"must be 0 or more, got {images}", "--images")
    plans = plan(
        inputs,
        data,
        out,
        names=names,
        overrides=overrides,
        minutes=minutes,
        reference=reference,
        device=device,
        overwrite=overwrite,
        seed_offset=seed_offset,
    )
    ref = reference or plans[0].name
    eval_device = {"gpu": "cuda", "auto": "cuda" if torch.cuda.is_available() else "cpu"}.get(device, device)
    source, described, split = open_data(str(data), split, cast(Any, None))  # fails before any training
    given = {c.name: (c.path, checkpoint_facts(c.path)) for c in plans if c.cfg is None}  # bad ones fail now too
    con.print(
        f"[bold]rleseg compare[/bold]: {len(plans)} models ({len(plans) - len(given)} to train) on "
        f"{escape(described)}, {len(source)} samples; reference {escape(ref)}",
        soft_wrap=True,
    )
    checkpoints = {
        c.name: given[c.name] if c.cfg is None else _train(c, f"[{k}/{len(plans)}]", overwrite, con)
        for k, c in enumerate(plans, start=1)
    }
    models: list[dict[str, Any]] = []
    for k, c in enumerate(plans, start=1):
        ckpt, facts = checkpoints[c.name]
        con.print(f"[{k}/{len(plans)}] evaluating [bold]{escape(c.name)}[/bold] ({escape(facts['model'])})")
        quiet = Console(quiet=True)  # one line per model here; the evaluation's tables are in its report.html
        m = _evaluate(c, ckpt, facts, data, out, split, eval_device, overwrite=overwrite, console=quiet)
        v = m["values"]
        con.print(
            f"  {escape(c.name)}: class-agnostic Dice {fmt_value(v.get('class_agnostic.dice'), 'score')}%, "
            f"mIoU {fmt_value(v.get('miou'), 'score')}%, {v['predict_seconds']:.1f} s"
        )
        models.append(m)
    ref_values = next(m["values"] for m in models if m["name"] == ref)
    for m in models:
        m["relative"] = dict.fromkeys(m["values"]) if m["name"] == ref else relative(m["values"], ref_values)
    class_names = _class_names(source, models)
    side = side_by_side(source, models, len(class_names) - 1, images)
    result = {
        "data": str(data),
        "split": split,
        "num_images": len(side.scores),
        "budget": {"minutes": minutes, "overrides": list(overrides), "device": device, "seed_offset": seed_offset},
        "reference": ref,
        "notes": _notes(plans, models, minutes),
        "models": models,
        "images": side.images(),
    }
    json_path = write_metrics_json(result, out / "comparison.json")
    title = f"rleseg compare: {len(models)} models on {data.name or data}" + (f", split {split}" if split else "")
    html_path = write_comparison(result, side.rows, class_names, out / "comparison.html", title)
    print_comparison(result, con)
    con.print(f"wrote [bold]{escape(str(json_path))}[/bold] and [bold]{escape(str(html_path))}[/bold]", soft_wrap=True)
    return Comparison(result, json_path, html_path, sum(m["problems"] for m in models))


def _class_names(source: Any, models: list[dict[str, Any]]) -> list[str]:
    """Background first: the data's classes, or a model's longer list (its extra classes are coloured too)."""
    names = list(source.classes)
    for m in models:
        theirs = ["background", *m["metrics"].get("classes", [])]
        names = theirs if len(theirs) > len(names) else names
    return names


def _notes(plans: list[Candidate], models: list[dict[str, Any]], minutes: float | None) -> list[str]:
    notes = []
    budgets = {c.name: c.cfg.train.max_time_minutes for c in plans if c.cfg is not None}
    if minutes is None and len(set(budgets.values())) > 1:
        notes.append(f"training budgets differ (minutes per config: {budgets}); --minutes sets one for all")
    for m in models:
        if m["problems"]:
            notes.append(f"{m['name']}: {m['problems']} sample(s) not scored; see {m['eval_dir']}/report.html")
        if m["values"].get("train_seconds") is None:
            notes.append(f"{m['name']}: training time unknown ({m['input']} stores no Timer state)")
    return notes


def _read_prediction(eval_dir: Path, name: str, sample: Any) -> np.ndarray | None:
    """A model's saved mask of ``sample`` (``(H, W)``, a video ``(T, H, W)``); None when missing or unlike
    the ground truth."""
    paths = [eval_dir / "masks" / f"{name}.png"]
    if sample.is_video:
        paths = [eval_dir / "masks" / name / f"{t:06d}.png" for t in range(sample.mask.shape[0])]
    try:
        pred = np.stack([np.asarray(Image.open(p)) for p in paths]).astype(np.int64)
    except OSError:
        return None
    pred = pred if sample.is_video else pred[0]
    return pred if pred.shape == sample.mask.shape else None


def side_by_side(source: Any, models: list[dict[str, Any]], num_classes: int, keep: int) -> SideBySide:
    """Every sample of ``source`` scored against each model's masks in its ``eval_dir`` (as named by
    ``evaluate_checkpoint``); unreadable samples are left out (the evaluations reported them)."""
    from rleseg.commands.evaluate_checkpoint import safe_name

    side = SideBySide([m["name"] for m in models], num_classes, keep)
    for index in progress(range(len(source)), f"comparing {len(source)} samples side by side"):
        try:
            sample = source[index]
        except (OSError, ValueError):
            continue
        name = safe_name(sample.name)
        preds = [_read_prediction(Path(m["eval_dir"]), name, sample) for m in models]
        side.add(name, sample.image, sample.mask, preds)
    return side
