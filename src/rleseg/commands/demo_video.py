"""``rleseg demo --video``: train a small video model on the embedded synthetic cell videos, evaluate it on
held-out videos, and optionally compare it with an image model trained on the frames of the same videos.

Steps: load ``configs/demo-video.yaml`` (a video tokenizer, ``synthetic-cells-video``), train into
``<out>/run`` within the time budget, predict every test video with clips of N frames every
``data.eval_frame_stride`` frames (spatial windows inside each clip, overlaps merged by vote) and score every
frame. Writes ``<out>/masks/<video>/<frame>.png``, ``<out>/overlays/<video>.gif`` (image | ground truth |
prediction, frame by frame) and ``<out>/metrics.json``.

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

from rleseg.commands.common import CommandError, label_png_array, print_metrics, progress, stdout, write_gif, write_png
from rleseg.commands.demo_run import clear_previous, default_config, load_demo_config, test_split, train_and_load
from rleseg.config import Config
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
    """``cfg`` with the image tokenizer LAC at the same S, two clips' worth of frames per batch, same budget."""
    static = copy.deepcopy(cfg)
    static.tokenizer.name = STATIC_TOKENIZER
    static.tokenizer.num_frames = None
    static.tokenizer.max_len = max(64, (cfg.tokenizer.max_len or 256) // max(1, cfg.tokenizer.num_frames or 1))
    frames = cfg.tokenizer.num_frames or 1
    static.data.batch_size = cfg.data.batch_size * frames
    if cfg.data.eval_batch_size:
        static.data.eval_batch_size = cfg.data.eval_batch_size * frames
    static.train.out_dir = str(run_dir)
    return static


def evaluate_videos(predictor: Any, videos: Any, out: Path, *, per_frame: bool, console: Console) -> dict[str, Any]:
    """Predict every video of ``videos`` (whole clips, or ``per_frame`` with an image model), score each frame,
    write masks, GIF strips and ``out/metrics.json``; returns the report."""
    from rleseg.metrics import SegmentationEvaluator
    from rleseg.report.overlay import side_by_side

    names = predictor.class_names
    evaluator = SegmentationEvaluator(names[1:])
    num_classes = len(names) - 1
    frames_total = 0
    how = "frame by frame" if per_frame else "in clips"
    for index in progress(range(len(videos)), f"predicting {len(videos)} test videos {how}"):
        video = videos[index]
        if not video.is_video:
            raise CommandError(f"test sample {video.name} is a single image; the video demo evaluates videos")
        if per_frame:
            masks = [predictor.predict_image(frame).mask for frame in video.image]
        else:
            pred = predictor.predict_video(video.image)
            masks = list(pred.mask)
        strips = []
        for t, (mask, truth) in enumerate(zip(masks, video.mask, strict=True)):
            evaluator.update(truth, mask)
            write_png(out / "masks" / video.name / f"{t:03d}.png", label_png_array(mask))
            strips.append(side_by_side(video.image[t], truth, mask, num_classes))
        write_gif(out / "overlays" / f"{video.name}.gif", strips, fps=2)
        frames_total += len(masks)
    evaluator.write(out / "metrics.json")
    report = evaluator.report()
    print_metrics(report, console, f"Test metrics (%), {len(videos)} held-out videos, {frames_total} frames")
    return report


def comparison_table(video: dict[str, Any], static: dict[str, Any], video_label: str) -> Table:
    """Dice per class, mean and class-agnostic, of the video and the static model, in %."""
    table = Table(title="Dice (%) on the same test frames", title_justify="left")
    for col in ("class", video_label, f"static ({STATIC_TOKENIZER})", "difference"):
        table.add_column(col, justify="left" if col == "class" else "right")
    rows = [(name, video["per_class"][name], static["per_class"][name]) for name in video["per_class"]]
    rows += [
        ("mean", video["mean"], static["mean"]),
        ("class-agnostic", video["class_agnostic"], static["class_agnostic"]),
    ]
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
    videos = test_split(cfg)
    clear_previous(out)
    predictor = train_and_load(cfg, device, con, " --video")
    report = evaluate_videos(predictor, videos, out, per_frame=False, console=con)
    con.print(
        f"wrote [bold]{escape(str(out / 'metrics.json'))}[/bold], masks to {escape(str(out / 'masks'))}/<video>/, "
        f"image | ground truth | prediction animations to {escape(str(out / 'overlays'))}/<video>.gif"
    )
    if not compare_static:
        return report

    static_out = out / "static"
    scfg = static_config(cfg, static_out / "run")
    clear_previous(static_out)
    static_predictor = train_and_load(scfg, device, con, " --video (static model on the same frames)")
    static_report = evaluate_videos(static_predictor, videos, static_out, per_frame=True, console=con)
    label = f"video ({cfg.tokenizer.name}, N={cfg.tokenizer.num_frames})"
    con.print(comparison_table(report, static_report, label))
    write_metrics_json({"video": report, "static": static_report, "video_label": label}, out / "comparison.json")
    con.print(f"wrote [bold]{escape(str(out / 'comparison.json'))}[/bold] (both reports side by side)")
    return report
