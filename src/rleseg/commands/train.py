"""``rleseg train CONFIG [key=value ...]``: build a run from a config and fit it with Lightning.

The resolved config (file + overrides) is saved as ``<train.out_dir>/config.yaml``; checkpoints go to
``<train.out_dir>/checkpoints/`` (``best.ckpt`` by the family's validation metric, e.g. Dice, unless
``train.checkpoint: final``; ``last.ckpt`` after every epoch), CSV logs to ``<train.out_dir>/logs/`` (a resumed
run keeps the earlier ``metrics.csv`` as ``metrics.part-<k>.csv``), and ``rleseg train`` plots them into
``<train.out_dir>/curves.png`` at the end. With ``generation.earliest_start_choices``, the best checkpoint (else
the last) then gets the fraction that scores best on the validation split (:mod:`rleseg.training.start_choice`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.console import Console
from rich.markup import escape

from rleseg.commands.common import CommandError, scalar_table, stderr, stdout
from rleseg.config import Config
from rleseg.segmenters.start_choice_record import samples_text, scores_text

if TYPE_CHECKING:
    from rleseg.training.start_choice import StartChoice


@dataclass
class TrainResult:
    """Where a finished run left its files, its final validation metrics (``val/...`` scalars), the optimizer
    steps it reached, its wall-clock training time in seconds, the model's parameter count, the
    ``generation.earliest_start`` chosen on validation (``generation.earliest_start_choices``; None: none), and
    whether the run hands on its final weights (``train.checkpoint: final``: ``best`` is None)."""

    out_dir: Path
    config_path: Path
    best: Path | None
    last: Path | None
    val_metrics: dict[str, float] = field(default_factory=dict)
    task: Any = None
    curves: Path | None = None
    steps: int = 0
    seconds: float = 0.0
    parameters: int = 0
    start_choice: StartChoice | None = None
    final_weights: bool = False


def load(config: Path | None, overrides: list[str] | None = None, resume: Path | None = None) -> Config:
    """The config file (None: the defaults) with ``key=value`` overrides; ``resume`` sets ``train.resume``."""
    from rleseg.config import load_config

    try:
        cfg = load_config(config, overrides or [])
    except ValueError as err:
        raise CommandError(str(err)) from None
    if resume is not None:
        cfg.train.resume = str(resume)
    return cfg


def _checkpoints(out_dir: Path) -> list[Path]:
    return sorted((out_dir / "checkpoints").glob("*.ckpt"))


def prepare_out_dir(cfg: Config, overwrite: bool) -> Path:
    """``train.out_dir``; refuses one holding checkpoints unless resuming, or ``overwrite`` (which deletes them)."""
    out_dir = Path(cfg.train.out_dir)
    old = _checkpoints(out_dir)
    if old and cfg.train.resume is None:
        if not overwrite:
            raise CommandError(
                f"{out_dir / 'checkpoints'} already holds checkpoints ({', '.join(p.name for p in old)}); "
                "pass --resume PATH to continue that run, --overwrite to start again there, "
                "or another train.out_dir=..."
            )
        for p in old:
            p.unlink()
    if cfg.train.resume is not None and not Path(cfg.train.resume).is_file():
        raise CommandError(f"checkpoint to resume from {cfg.train.resume} does not exist")
    return out_dir


def fit(cfg: Config, *, overwrite: bool = False, extra_callbacks: list[Any] | None = None) -> TrainResult:
    """Build sources, the segmenter of ``cfg.model.family``, DataModule and trainer, save the config, and fit."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.utilities import rank_zero_only

    from rleseg.config import save_config
    from rleseg.segmenters.loading import create_segmenter
    from rleseg.training.build import apply_threads, build_datamodule, build_sources, build_trainer
    from rleseg.training.start_choice import check_can_choose

    out_dir = prepare_out_dir(cfg, overwrite)
    apply_threads(cfg.train)
    L.seed_everything(cfg.train.seed, verbose=False)
    try:
        sources = build_sources(cfg)
        classes = list(sources["train"].classes)
        task = create_segmenter(cfg, classes)
        if cfg.generation.earliest_start_choices is not None:
            check_can_choose(task, cfg.generation.earliest_start_choices)
        datamodule = build_datamodule(cfg, task, sources)
    except ValueError as err:
        raise CommandError(str(err)) from None
    config_path = out_dir / "config.yaml"
    if _rank(rank_zero_only) == 0:
        for warning in task.setting_warnings():
            stderr().print(f"[yellow]warning:[/yellow] {escape(warning)}")
        _prepare_logs(out_dir / "logs", resuming=cfg.train.resume is not None)
    trainer = build_trainer(cfg, out_dir, extra_callbacks=extra_callbacks, monitor=task.checkpoint_monitor)
    if _rank(rank_zero_only) == 0:
        save_config(cfg, config_path)
    start = time.monotonic()
    trainer.fit(task, datamodule, ckpt_path=cfg.train.resume)
    seconds = time.monotonic() - start
    best = last = None
    for cb in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(cb, ModelCheckpoint):
            if cb.monitor is not None and cb.best_model_path:
                best = Path(cb.best_model_path)
            if cb.last_model_path:
                last = Path(cb.last_model_path)
    metrics = {
        k: float(v)
        for k, v in sorted(trainer.callback_metrics.items())
        if k.startswith("val/") and math.isfinite(float(v))
    }
    choice = None
    chosen_for = best or last
    if cfg.generation.earliest_start_choices is not None and chosen_for is not None and _rank(rank_zero_only) == 0:
        choice = _choose_start(cfg, chosen_for, sources.get("val"))
    return TrainResult(
        out_dir,
        config_path,
        best,
        last,
        metrics,
        task,
        None,
        int(trainer.global_step),
        seconds,
        task.num_parameters,
        choice,
        cfg.train.checkpoint == "final",
    )


def _choose_start(cfg: Config, checkpoint: Path, val: Any) -> StartChoice | None:
    """``generation.earliest_start`` chosen on the validation split among ``earliest_start_choices`` and stored
    in ``checkpoint`` (None, with a line on stderr, when there is no validation data)."""
    from rleseg.segmenters.loading import load_segmenter
    from rleseg.training.start_choice import choose_earliest_start, write_choice

    if val is None or len(val) == 0:
        stderr().print(
            f"generation.earliest_start_choices: no validation samples in {cfg.data.source}; {checkpoint.name} "
            f"keeps earliest_start {cfg.generation.earliest_start}"
        )
        return None
    choices = cast(list[float], cfg.generation.earliest_start_choices)
    choice = choose_earliest_start(load_segmenter(checkpoint), val, choices, show_progress=cfg.train.progress)
    write_choice(checkpoint, choice)
    return choice


def _prepare_logs(log_dir: Path, resuming: bool) -> None:
    """Keep the metrics of the run being resumed (Lightning's CSVLogger deletes metrics.csv when it starts);
    a new run drops the parts an earlier run left, so its curves do not mix two runs."""
    from rleseg.report.curves import drop_log_parts, keep_log_before_resume

    if resuming:
        keep_log_before_resume(log_dir)
    else:
        drop_log_parts(log_dir)


def _rank(rank_zero_only: Any) -> int:
    """The global rank Lightning found in the environment (0 outside distributed runs)."""
    return int(getattr(rank_zero_only, "rank", 0) or 0)


def print_result(result: TrainResult, console: Console) -> None:
    """Where the checkpoints are and the final validation metrics."""
    console.print(f"config: [bold]{escape(str(result.config_path))}[/bold]")
    if result.best is not None:
        console.print(f"best checkpoint (val/dice): [bold]{escape(str(result.best))}[/bold]")
    elif result.final_weights:
        console.print("best checkpoint: none (train.checkpoint: final; the run hands on its final weights, last.ckpt)")
    else:
        console.print("best checkpoint: none (validation never ran; see train.val_every_n_epochs)")
    console.print(f"last checkpoint: [bold]{escape(str(result.last) if result.last else 'none')}[/bold]")
    if result.curves is not None:
        console.print(f"training curves: [bold]{escape(str(result.curves))}[/bold]")
    if result.start_choice is not None:
        console.print(start_choice_line(result.start_choice))
    if result.val_metrics:
        console.print(scalar_table(result.val_metrics.items(), "final validation metrics"))
    else:
        console.print("no validation metrics (no validation data, or validation never ran)")


def start_choice_line(choice: StartChoice) -> str:
    """One line: the fraction chosen, and every candidate's validation class-agnostic Dice."""
    record = choice.as_dict()
    return (
        f"generation.earliest_start {choice.chosen:g}, chosen on {samples_text(record)} in {choice.seconds:.0f} s "
        f"(class-agnostic Dice %: {escape(scores_text(record))})"
    )


def train(
    config: Path,
    overrides: list[str] | None = None,
    *,
    resume: Path | None = None,
    overwrite: bool = False,
    console: Console | None = None,
) -> TrainResult:
    """``rleseg train``: load ``config`` with ``overrides``, fit, print where the checkpoints are."""
    from lightning.pytorch.utilities import rank_zero_only

    if not config.is_file():
        raise CommandError(f"config file {config} does not exist")
    cfg = load(config, overrides, resume)
    result = fit(cfg, overwrite=overwrite)
    if _rank(rank_zero_only) == 0:
        from rleseg.report.curves import plot_run_curves

        err = stderr()
        result.curves = plot_run_curves(result.out_dir, lambda m: err.print(f"[yellow]warning:[/yellow] {escape(m)}"))
        print_result(result, console or stdout())
    return result
