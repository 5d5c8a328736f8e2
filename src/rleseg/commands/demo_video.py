"""``rleseg demo --video``: train a small video model on the embedded synthetic cell videos, evaluate it on
held-out videos, and optionally compare it with an image model trained on the frames of the same videos.

Steps: load ``configs/demo-video.yaml`` (a video tokenizer, ``synthetic-cells-video``), train into
``<out>/run`` within the time budget, predict every test video with clips of N frames every
``data.eval_frame_stride`` frames (spatial windows inside each clip, overlaps merged by vote) and score every
frame. Writes ``<out>/masks/<video>/<frame>.png``, ``<out>/overlays/<video>.gif`` (image | ground truth |
prediction, frame by frame), ``<out>/metrics.json`` and ``<out>/report.html``.

``compare_static``: the same config with the image tokenizer LAC (same S, model and budget) trains on the
frames of the same training videos into ``<out>/static/run``, predicts the same test frames one by one
(``<out>/static/...``), and ``<out>/comparison.json`` holds both reports side by side.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rleseg.commands.common import CommandError, stdout
from rleseg.commands.demo_run import default_config, evaluate_demo, load_demo_config, test_split, train_demo
from rleseg.config import Config, TokenizerConfig
from rleseg.metrics.report import write_metrics_json

DEFAULT_OUT = Path("results/demo-video")
STATIC_TOKENIZER = "lac"


def _check_video(cfg: Config) -> None:
    from rleseg.tokenizers import tokenizer_class

    try:
        video = tokenizer_class(cfg.tokenizer.name).is_video
    except ValueError as err:
        raise CommandError(str(err)) from None
    if not video:
        raise CommandError(
            f"`rleseg demo --video` needs a video tokenizer (3d-c, 3d-f, tac or ltac), got {cfg.tokenizer.name}"
        )


def static_config(cfg: Config, run_dir: Path) -> Config:
    """``cfg`` with the image tokenizer LAC at the same S and model, as many frames per batch, same budget
    (a video scheme's class option, e.g. ``3d-c`` with ``classes: lac``, is LAC's own way already; a clip
    model's frame warm-up, which mixes clips, its attention bias across frames and its mixing of the frames' fine
    grids have no counterpart)."""
    frames = cfg.tokenizer.num_frames or 1
    static = copy.deepcopy(cfg)
    static.tokenizer.name = STATIC_TOKENIZER
    static.tokenizer.num_frames = None
    static.tokenizer.classes = TokenizerConfig().classes
    static.tokenizer.max_len = max(64, (cfg.tokenizer.max_len or 256) // frames)
    static.data.batch_size = cfg.data.batch_size * frames
    if cfg.data.eval_batch_size:
        static.data.eval_batch_size = cfg.data.eval_batch_size * frames
    static.train.out_dir = str(run_dir)
    static.train.frame_warmup = 0.0
    static.model.pix2seq.frame_attention_bias = None
    static.model.pix2seq.frame_attention_bias_lr = None
    static.model.pix2seq.frame_neighbours = 0
    return static


ONE_RUN_NOTE = (
    "One run of each model: training ends on the time budget, so even the same seed moves by a point or two. Run "
    "again with train.seed=1, 2, ... before reading a difference of a few points (docs/video-demo.md: over five "
    "seeds of configs/demo-video.yaml the difference ran from +2.7 to +6.6 mean points)."
)


def comparison_table(video: dict[str, Any], static: dict[str, Any], video_label: str) -> Table:
    """Dice per class, mean and class-agnostic, of the video and the static model, in %."""
    table = Table(title="Dice (%) on the same test frames", title_justify="left")
    for col in ("class", video_label, f"static ({STATIC_TOKENIZER})", "difference"):
        table.add_column(col, justify="left" if col == "class" else "right")
    rows = [(name, video["per_class"][name], static["per_class"][name]) for name in video["per_class"]]
    rows.append(("mean", video["mean"], static["mean"]))
    rows.append(("class-agnostic", video["class_agnostic"], static["class_agnostic"]))
    for name, v, s in rows:
        dv, ds = v.get("dice"), s.get("dice")
        diff = "-" if dv is None or ds is None else f"{100 * (dv - ds):+.2f}"
        table.add_row(name, "-" if dv is None else f"{100 * dv:.2f}", "-" if ds is None else f"{100 * ds:.2f}", diff)
    return table


def run(
    out: Path = DEFAULT_OUT,
    *,
    config: Path | None = None,
    overrides: list[str] | None = None,
    minutes: float | None = None,
    device: str = "auto",
    compare_static: bool = False,
    console: Console | None = None,
) -> dict[str, Any]:
    """Train the video model, evaluate it on held-out videos (and the static model, with ``compare_static``);
    returns the video model's ``metrics.json`` dict."""
    con = console or stdout()
    cfg = load_demo_config(config or default_config("demo-video.yaml"), overrides, minutes, out / "run")
    _check_video(cfg)
    test_split(cfg)  # fail before training when there is nothing to evaluate on
    label = f"video ({cfg.tokenizer.name}, N={cfg.tokenizer.num_frames})"
    ckpt = train_demo(cfg, con, " --video")
    report = evaluate_demo(ckpt, cfg, out, device, con, f"rleseg demo --video: {label} on {cfg.data.source}")
    if not compare_static:
        return report

    scfg = static_config(cfg, out / "static" / "run")
    static_ckpt = train_demo(scfg, con, " --video (static model on the same frames)")
    title = f"rleseg demo --video: static model ({STATIC_TOKENIZER}) on the frames of {cfg.data.source}"
    static_report = evaluate_demo(static_ckpt, scfg, out / "static", device, con, title)
    con.print(comparison_table(report, static_report, label))
    con.print(ONE_RUN_NOTE)
    write_metrics_json({"video": report, "static": static_report, "video_label": label}, out / "comparison.json")
    con.print(f"wrote [bold]{escape(str(out / 'comparison.json'))}[/bold] (both reports side by side)")
    return report
