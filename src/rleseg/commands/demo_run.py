"""``rleseg demo``: train a small model on the embedded synthetic cells and evaluate it on held-out images.

Steps: load ``configs/demo.yaml`` (plus overrides), train into ``<out>/run`` (``config.yaml``, ``checkpoints/``,
``logs/``) within the time budget, then predict every image of the test split (generated from its own
seeds, never seen in training or validation) at full resolution with the best checkpoint (the last one when
validation never ran), compare with the ground truth and write ``<out>/masks/<name>.png``,
``<out>/overlays/<name>.png`` (image | ground truth | prediction strips), ``<out>/metrics.json`` and
``<out>/report.html`` (the report of ``rleseg evaluate``: metrics, charts, confusion matrix, sequence lengths,
training curves and the gallery, worst first). Pictures of an earlier demo in ``<out>`` are replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from rleseg.commands import train as train_cmd
from rleseg.commands.common import CommandError, stdout
from rleseg.config import Config

DEFAULT_OUT = Path("results/demo")


def default_config(name: str = "demo.yaml") -> Path:
    """``configs/<name>`` of the working directory, else of the source checkout this package lives in."""
    here = Path("configs") / name
    if here.is_file():
        return here
    repo = Path(__file__).resolve().parents[3] / "configs" / name
    if repo.is_file():
        return repo
    raise CommandError(f"cannot find configs/{name} (looked in {Path.cwd()} and {repo.parents[1]}); pass --config")


def _check_static(cfg: Config) -> None:
    from rleseg.segmenters.registry import segmenter_class

    try:
        video = segmenter_class(cfg.model.family).takes_clips(cfg)
    except ValueError as err:
        raise CommandError(str(err)) from None
    if video:
        raise CommandError(
            f"{model_label(cfg)} reads video clips; `rleseg demo --video` trains and evaluates video models (the "
            "image demo needs an image model, e.g. the tokenizer lac)"
        )


def model_label(cfg: Config) -> str:
    """A short description of the model ``cfg`` trains, e.g. ``lac (S=32, L=256)`` or ``smp unet``."""
    if cfg.model.family != "pix2seq":
        section = cfg.model.section()
        arch = getattr(section, "arch", "")
        return f"{cfg.model.family} {arch}".strip()
    t = cfg.tokenizer
    frames = f", N={t.num_frames}" if t.num_frames else ""
    return f"{t.name} (S={t.mask_size}{frames}, L={t.max_len})"


def load_demo_config(cfg_path: Path, overrides: list[str] | None, minutes: float | None, run_dir: Path) -> Config:
    """The demo config with ``overrides``, the time budget ``minutes`` and the run folder ``run_dir``."""
    if not cfg_path.is_file():
        raise CommandError(f"config file {cfg_path} does not exist")
    cfg = train_cmd.load(cfg_path, overrides)
    if minutes is not None:
        if minutes <= 0:
            raise CommandError(f"--minutes must be positive, got {minutes}")
        cfg.train.max_time_minutes = minutes
    cfg.train.out_dir = str(run_dir)
    return cfg


def test_split(cfg: Config) -> Any:
    """The held-out test source of ``cfg`` (never seen in training or validation); CommandError when empty."""
    from rleseg.training.build import build_sources

    try:
        test = build_sources(cfg).get("test")
    except ValueError as err:
        raise CommandError(str(err)) from None
    if test is None or len(test) == 0:
        raise CommandError(f"data.source {cfg.data.source} has no test samples to evaluate on")
    return test


def train_demo(cfg: Config, console: Console, what: str = "") -> Path:
    """Train ``cfg`` (replacing its run folder); the best checkpoint (the last when validation never ran)."""
    t = cfg.train
    limits = [f"{t.max_time_minutes:g} min" if t.max_time_minutes else ""]
    limits += [
        f"{t.epoch_limit()} epochs" if t.epoch_limit() > 0 else "",
        f"{t.max_steps} steps" if t.max_steps > 0 else "",
    ]
    console.print(
        f"[bold]rleseg demo[/bold]{what}: training {escape(model_label(cfg))} on {escape(cfg.data.source)} for up to "
        f"{', '.join(x for x in limits if x) or 'no limit'}; run folder {escape(cfg.train.out_dir)}"
    )
    result = train_cmd.fit(cfg, overwrite=True)
    train_cmd.print_result(result, console)
    ckpt = result.best or result.last
    if ckpt is None:
        raise CommandError(f"training wrote no checkpoint in {result.out_dir / 'checkpoints'}")
    return ckpt


def prediction_batch(cfg: Config) -> int | None:
    """The predictor's batch (windows x views a pass) for ``data.eval_batch_size`` windows a pass with all their
    ``data.eval_views`` views; None (the predictor's default) when it is not set."""
    d = cfg.data
    return d.eval_batch_size * max(1, d.eval_views) if d.eval_batch_size else None


def evaluate_demo(ckpt: Path, cfg: Config, out: Path, device: str, console: Console, title: str) -> dict[str, Any]:
    """Predict the held-out test split with ``ckpt`` into ``out`` (masks, overlays, ``metrics.json``,
    ``report.html``); returns the metrics dict."""
    import torch

    from rleseg.commands.evaluate_checkpoint import SYNTHETIC, evaluate_checkpoint

    dev = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    split = "test" if cfg.data.source in SYNTHETIC else cfg.data.test_split
    done = evaluate_checkpoint(
        ckpt,
        cfg.data.source,
        out,
        split=split,
        device=dev,
        batch_size=prediction_batch(cfg),
        overwrite=True,
        overlays=True,
        title=title,
        console=console,
    )
    if done.problems:
        raise CommandError(f"{len(done.problems)} test sample(s) could not be evaluated: {done.problems[0]}")
    return done.report


def run(
    out: Path = DEFAULT_OUT,
    *,
    config: Path | None = None,
    overrides: list[str] | None = None,
    minutes: float | None = None,
    device: str = "auto",
    console: Console | None = None,
) -> dict[str, Any]:
    """Train, predict the test split, print the metrics table; returns the ``metrics.json`` dict."""
    con = console or stdout()
    cfg_path = config if config is not None else default_config()
    cfg = load_demo_config(cfg_path, overrides, minutes, out / "run")
    _check_static(cfg)
    test_split(cfg)  # fail before training when there is nothing to evaluate on
    ckpt = train_demo(cfg, con)
    return evaluate_demo(ckpt, cfg, out, device, con, f"rleseg demo: {model_label(cfg)} on {cfg.data.source}")
