"""``rleseg demo``: train a small model on the embedded synthetic cells and evaluate it on held-out images.

Steps: load ``configs/demo.yaml`` (plus overrides), train into ``<out>/run`` (``config.yaml``, ``checkpoints/``,
``logs/``) within the time budget, then predict every image of the test split (generated from its own
seeds, never seen in training or validation) at full resolution with the best checkpoint (the last one when
validation never ran), compare with the ground truth and write ``<out>/masks/<name>.png``,
``<out>/overlays/<name>.png`` (image | ground truth | prediction strips) and ``<out>/metrics.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from rleseg.commands import train as train_cmd
from rleseg.commands.common import CommandError, label_png_array, print_metrics, progress, stdout, write_png
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
    from rleseg.tokenizers import tokenizer_class

    try:
        video = tokenizer_class(cfg.tokenizer.name).is_video
    except ValueError as err:
        raise CommandError(str(err)) from None
    if video:
        raise CommandError(
            f"tokenizer {cfg.tokenizer.name} is a video scheme; `rleseg demo --video` trains and evaluates video "
            "models (the image demo needs an image tokenizer such as lac)"
        )


def clear_previous(out: Path) -> None:
    """Remove the pictures of an earlier demo in ``out/masks`` and ``out/overlays`` (only ``*.png`` and ``*.gif``
    files, also one folder down: a video's frames)."""
    for sub in ("masks", "overlays"):
        folder = out / sub
        if folder.is_dir():
            for pattern in ("*.png", "*.gif", "*/*.png"):
                for p in folder.glob(pattern):
                    p.unlink()


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


def train_and_load(cfg: Config, device: str, console: Console, what: str = "") -> Any:
    """Train ``cfg`` (overwriting its run folder) and return a :class:`Predictor` of its best checkpoint (the
    last one when validation never ran)."""
    import torch

    from rleseg.inference.predictor import Predictor

    budget = f"{cfg.train.max_time_minutes:g} min" if cfg.train.max_time_minutes else "no time limit"
    frames = f", N={cfg.tokenizer.num_frames}" if cfg.tokenizer.num_frames else ""
    console.print(
        f"[bold]rleseg demo[/bold]{what}: training {cfg.tokenizer.name} (S={cfg.tokenizer.mask_size}{frames}, "
        f"L={cfg.tokenizer.max_len}) on {escape(cfg.data.source)} for up to {cfg.train.max_epochs} epochs "
        f"({budget}); run folder {escape(cfg.train.out_dir)}"
    )
    result = train_cmd.fit(cfg, overwrite=True)
    train_cmd.print_result(result, console)
    ckpt = result.best or result.last
    if ckpt is None:
        raise CommandError(f"training wrote no checkpoint in {result.out_dir / 'checkpoints'}")
    dev = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    batch = cfg.data.eval_batch_size or cfg.data.batch_size
    try:
        predictor = Predictor.from_checkpoint(ckpt, device=dev, batch_size=batch)
    except (ValueError, RuntimeError) as err:
        raise CommandError(str(err)) from None
    console.print(f"evaluating {escape(str(ckpt))} on the held-out test split, not seen in training")
    return predictor


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
    from rleseg.metrics import SegmentationEvaluator
    from rleseg.report.overlay import side_by_side

    con = console or stdout()
    cfg_path = config if config is not None else default_config()
    cfg = load_demo_config(cfg_path, overrides, minutes, out / "run")
    _check_static(cfg)
    test = test_split(cfg)
    clear_previous(out)
    predictor = train_and_load(cfg, device, con)
    names = predictor.class_names
    evaluator = SegmentationEvaluator(names[1:])
    num_classes = len(names) - 1
    for index in progress(range(len(test)), f"predicting {len(test)} test images"):
        sample = test[index]
        if sample.is_video:
            raise CommandError(f"test sample {sample.name} is a video; the demo evaluates images")
        pred = predictor.predict_image(sample.image)
        evaluator.update(sample.mask, pred.mask)
        write_png(out / "masks" / f"{sample.name}.png", label_png_array(pred.mask))
        strip = side_by_side(sample.image, sample.mask, pred.mask, num_classes)
        write_png(out / "overlays" / f"{sample.name}.png", strip)
    metrics_path = evaluator.write(out / "metrics.json")
    report = evaluator.report()
    print_metrics(report, con, f"Test metrics (%), {len(test)} held-out images")
    con.print(
        f"wrote [bold]{escape(str(metrics_path))}[/bold], masks to {escape(str(out / 'masks'))}/, "
        f"image | ground truth | prediction strips to {escape(str(out / 'overlays'))}/"
    )
    return report
