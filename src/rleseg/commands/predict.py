"""``rleseg predict CKPT INPUT... --out DIR``: full-size masks and overlays for images and videos.

Which inputs are images and which are videos, and where their outputs go, is in
:mod:`rleseg.commands.predict_inputs`. Masks are single-channel class ids (uint8; 16-bit above 255 classes),
instances 16-bit ids (``iw`` models only), overlays the image with the classes blended in colour and
outlined. A video model predicts clips of N frames every ``frame_stride`` frames; an image model predicts
every frame of a video on its own. Every file is written atomically; an existing output is an error unless
``overwrite``, which replaces a video's frame folders whole once the video was read (see
:func:`~rleseg.commands.predict_inputs.remove_stale`). Unreadable inputs are reported together at the end; the
others are still predicted. The progress bar (stderr) counts images and video frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape

from rleseg.commands.common import (
    CommandError,
    compact_ids,
    label_png_array,
    progress_bar,
    stderr,
    stdout,
    write_gif,
    write_png,
)
from rleseg.commands.predict_inputs import ImageJob, VideoJob, collect, plan, remove_stale, work_units
from rleseg.inference.predictor import Predictor
from rleseg.inference.stitch import MERGE_RULES

PREVIEW_FPS = 10.0  # frame rate of the overlay GIF of a folder of frames (video files keep their own)
PREVIEW_SIDE = 480  # longer side of the overlay GIF in pixels, at most


def predict(
    checkpoint: Path,
    inputs: list[Path],
    out: Path,
    *,
    stride: int | None = None,
    merge: str | None = None,
    device: str = "cpu",
    batch_size: int | None = None,
    frame_stride: int | None = None,
    cleanup: int | None = None,
    views: int | None = None,
    earliest_start: float | None = None,
    video: bool = False,
    overwrite: bool = False,
    console: Console | None = None,
) -> tuple[list[ImageJob], list[VideoJob]]:
    """Predict every input image and video with ``checkpoint``; write masks, instances (``iw``) and overlays.

    ``frame_stride``: T, the first frames of a video model's clips are T apart (default: the config's, else
    N); ``cleanup``: close gaps of up to this many pixels (default: the config's, 0: off); ``views``: test-time
    views per window (1, 2, 4 or 8; default: the config's ``data.eval_views``); ``earliest_start``: token
    models' ``generation.earliest_start`` (default: the config's; 0: off); ``video``: a
    folder of images is one video also for an image model.
    """
    if merge is not None and merge not in MERGE_RULES:
        raise CommandError(f"unknown merge {merge!r}; expected one of {', '.join(MERGE_RULES)}")
    if cleanup is not None and cleanup < 0:
        raise CommandError(f"--cleanup {cleanup}: expected a gap size in pixels >= 0 (0: off)")
    try:
        predictor = Predictor.from_checkpoint(
            checkpoint,
            device=device,
            batch_size=batch_size,
            stride=stride,
            merge=merge,
            cleanup=cleanup,
            views=views,
            earliest_start=earliest_start,
        )
    except (ValueError, RuntimeError) as err:  # RuntimeError: e.g. a CUDA device that is not there
        raise CommandError(str(err)) from None
    _check_frame_stride(predictor, checkpoint, frame_stride)
    images, videos = plan(
        collect(inputs, video or predictor.is_video),
        out,
        instances=predictor.instance_aware,
        overwrite=overwrite,
    )
    if predictor.is_video and images:
        raise CommandError(
            f"{images[0].image}: a single image, but {checkpoint} is a video model (clips of "
            f"N={predictor.num_frames} frames); give a folder of frames, a folder of such folders or a video file"
        )
    unreadable: list[str] = []
    done = {"image": 0, "video": 0}
    jobs: list[ImageJob | VideoJob] = [*images, *videos]
    units = work_units(images, videos)
    with _FrameProgress(f"predicting {_counts(len(images), len(videos))}", sum(units)) as bar:
        writer = _Writer(predictor, bar.tick)
        for job, expected in zip(jobs, units, strict=True):
            bar.start_job(expected)
            try:
                if isinstance(job, ImageJob):
                    writer.image(job)
                else:
                    if predictor.is_video or predictor.spec.streaming:
                        count = writer.video_clips(job, frame_stride)
                    else:
                        count = writer.video_frames(job)
                    if overwrite:  # only now: an unreadable video keeps its earlier outputs
                        remove_stale(job, {job.frame_name(i) for i in range(count)})
            except ValueError as err:  # DatasetError names the file; carry on with the others
                unreadable.append(str(err))
                bar.end_job(failed=True)
            else:
                done["image" if isinstance(job, ImageJob) else "video"] += 1
                bar.end_job(failed=False)
    con = console or stdout()
    kinds = "masks/, instances/, overlays/" if predictor.instance_aware else "masks/, overlays/"
    frames = f" ({_count(writer.frames, 'video frame')})" if videos else ""
    con.print(f"wrote {_counts(done['image'], done['video'])}{frames} to [bold]{escape(str(out))}[/bold] ({kinds})")
    con.print(f"classes: {', '.join(f'{k}={n}' for k, n in enumerate(predictor.class_names))}")
    if unreadable:
        lines = "\n  ".join(unreadable)
        raise CommandError(f"{len(unreadable)} of {len(jobs)} input(s) could not be read:\n  {lines}")
    return images, videos


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _counts(images: int, videos: int) -> str:
    """``"3 images"``, ``"1 video"``, ``"3 images and 1 video"``; ``"0 images"`` when both are 0."""
    parts = [_count(n, w) for n, w in ((images, "image"), (videos, "video")) if n]
    return " and ".join(parts) or "0 images"


def _check_frame_stride(predictor: Predictor, checkpoint: Path, frame_stride: int | None) -> None:
    """CommandError for a stride above N; a note when an image model has no use for it."""
    if frame_stride is None:
        return
    if not predictor.is_video:
        stderr().print(
            f"note: --frame-stride is ignored: {escape(str(checkpoint))} is an image model, every frame is "
            "predicted on its own"
        )
    elif not 1 <= frame_stride <= predictor.num_frames:
        raise CommandError(
            f"--frame-stride {frame_stride}: expected 1..{predictor.num_frames} (N, the clip length of "
            f"{checkpoint}); a larger stride would skip frames"
        )


class _FrameProgress:
    """A rich progress bar on stderr over work units (1 per image, 1 per video frame; see
    :func:`~rleseg.commands.predict_inputs.work_units`). Each input is a job of the units it is expected to
    take; :meth:`tick` counts one done. A video with more frames than its header said raises the total as it
    goes, one with fewer lowers it at its end; a failed input counts its remaining units as done."""

    def __init__(self, description: str, total: int, console: Console | None = None) -> None:
        self.bar = progress_bar(console)
        self.task = self.bar.add_task(description, total=total)
        self.total = total
        self.expected = self.ticked = 0

    def __enter__(self) -> _FrameProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def start_job(self, expected: int) -> None:
        self.expected, self.ticked = expected, 0

    def tick(self) -> None:
        self.ticked += 1
        if self.ticked > self.expected:
            self.total += 1
            self.bar.update(self.task, total=self.total)
        self.bar.advance(self.task)

    def end_job(self, *, failed: bool) -> None:
        left = self.expected - self.ticked
        if left > 0 and failed:
            self.bar.advance(self.task, left)
        elif left > 0:
            self.total -= left
            self.bar.update(self.task, total=self.total)
        self.expected = self.ticked = 0


class _Writer:
    """Predicts one input at a time and writes its files; counts the video frames written and calls ``tick``
    for each image and video frame written."""

    def __init__(self, predictor: Predictor, tick: Callable[[], None] = lambda: None) -> None:
        from rleseg.report.overlay import overlay

        self.predictor = predictor
        self.num_classes = len(predictor.class_names) - 1
        self.overlay = overlay
        self.frames = 0
        self.tick = tick

    def image(self, job: ImageJob) -> None:
        from rleseg.data.formats.files import read_rgb

        image = read_rgb(job.image)
        pred = self.predictor.predict_image(image)
        ids = None if pred.instances is None else compact_ids(pred.instances)
        self._write(image, pred.mask, ids, job.mask, job.overlay, job.instances)
        self.tick()

    def video_frames(self, job: VideoJob) -> int:
        """An image model on a video: every frame predicted as an image, read and written one at a time;
        returns the number of frames."""
        previews = []
        for i, frame in enumerate(_frames(job)):
            pred = self.predictor.predict_image(frame)
            name = job.frame_name(i)
            inst = None if job.instances is None else job.instances / name
            ids = None if pred.instances is None else compact_ids(pred.instances)  # not tracked across frames
            previews.append(_thumbnail(self._write(frame, pred.mask, ids, job.masks / name, job.overlays / name, inst)))
            self.frames += 1
            self.tick()
        self._preview(job, previews)
        return len(previews)

    def video_clips(self, job: VideoJob, frame_stride: int | None) -> int:
        """A video model on a video: all frames at once, clips of N frames, merged per pixel and frame (a
        streaming model: frame by frame from its own previous prediction); returns the number of frames (the
        progress counts them as they are written, after the whole video's prediction)."""
        from rleseg.data.formats.files import DatasetError

        listed = list(_frames(job))
        first = listed[0].shape
        for i, f in enumerate(listed):
            if f.shape != first:
                where = job.frames[i] if job.frames is not None else f"{job.source} frame {i}"
                raise DatasetError(
                    f"{where}: frame is {f.shape[0]}x{f.shape[1]} (HxW) but the first frame is {first[0]}x{first[1]}; "
                    "expected all frames of a video to share a size"
                )
        frames = np.stack(listed)  # (T, H, W, 3)
        del listed
        pred = self.predictor.predict_video(frames, frame_stride)
        instances = None if pred.instances is None else compact_ids(pred.instances)  # one id per track
        previews = []
        for i, frame in enumerate(frames):
            name = job.frame_name(i)
            inst = None if job.instances is None else job.instances / name
            ids = None if instances is None else instances[i]
            coloured = self._write(frame, pred.mask[i], ids, job.masks / name, job.overlays / name, inst)
            previews.append(_thumbnail(coloured))
            self.frames += 1
            self.tick()
        self._preview(job, previews)
        return len(previews)

    def _write(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        ids: np.ndarray | None,
        mask_path: Path,
        overlay_path: Path,
        inst_path: Path | None,
    ) -> np.ndarray:
        """Write one ``(H, W)`` mask, its instance ids (already numbered 1..n) and its overlay; returns the
        overlay ``(H, W, 3)``."""
        write_png(mask_path, label_png_array(mask, f"{mask_path}: class mask"))
        if inst_path is not None and ids is not None:
            if ids.size and int(ids.max()) > np.iinfo(np.uint16).max:
                raise CommandError(f"{inst_path}: {int(ids.max())} instances do not fit a 16-bit PNG")
            write_png(inst_path, ids.astype(np.uint16))
        coloured = self.overlay(image, mask, num_classes=self.num_classes)
        write_png(overlay_path, coloured)
        return coloured

    def _preview(self, job: VideoJob, overlays: list[np.ndarray]) -> None:
        from rleseg.data.formats.video_file import frame_rate

        fps = (frame_rate(job.source) if job.frames is None else None) or PREVIEW_FPS
        size = overlays[0].shape[:2]  # frames of other sizes (image models take any) are fitted to the first
        write_gif(job.preview, [f if f.shape[:2] == size else _thumbnail(f, size) for f in overlays], fps)


def _thumbnail(frame: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """``(H, W, 3)`` uint8 resized (bilinear) to ``size`` ``(h, w)``, by default shrunk to a longer side of
    :data:`PREVIEW_SIDE` (aspect kept; smaller frames are kept as they are)."""
    from PIL import Image

    h, w = frame.shape[:2]
    if size is None:
        if max(h, w) <= PREVIEW_SIDE:
            return frame
        scale = PREVIEW_SIDE / max(h, w)
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
    resized = Image.fromarray(np.ascontiguousarray(frame)).resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(resized)


def _frames(job: VideoJob) -> Iterator[np.ndarray]:
    """The frames of a video job, ``(H, W, 3)`` uint8 each, read one at a time."""
    from rleseg.data.formats.files import read_rgb
    from rleseg.data.formats.video_file import iter_frames

    if job.frames is None:
        yield from iter_frames(job.source)
    else:
        for path in job.frames:
            yield read_rgb(path)
