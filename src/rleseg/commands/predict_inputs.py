"""What ``rleseg predict`` reads and writes: inputs sorted into images and videos, and their output paths.

The rules (also in ``rleseg predict --help``):

- an image file (png, jpg, tif) is one image; a video file (mp4, avi, mov, mkv, webm, gif ...) is one video;
- a folder that holds images (directly, or in an ``images/`` sub-folder as ``rleseg data synth`` writes) is
  a set of images for an image model, and one video (its images are the frames, in natural order) for a
  video model or with ``--video``;
- any other folder is a set of videos: each sub-folder holding images (directly or in ``images/``) is one
  video, and so is each video file directly inside it.

Outputs in DIR: an image ``X.png`` gives ``masks/X.png``, ``overlays/X.png`` and (``iw`` models)
``instances/X.png``; a video X gives ``masks/X/<frame>.png``, ``overlays/X/<frame>.png``,
``instances/X/<frame>.png`` and a preview ``overlays/X.gif``. Frames are named after the frame files, and
numbered ``000000.png ...`` for video files. With ``--overwrite`` a video's folders are replaced whole: once it
was read and written, the ``*.png`` files in its three folders that this run did not write (frames of an
earlier, longer video of that name) are removed (:func:`remove_stale`); nothing else is.

Progress counts work units (:func:`work_units`): 1 per image, 1 per frame of a video.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from rleseg.commands.common import CommandError
from rleseg.data.formats.files import IMAGE_EXTENSIONS, list_dirs, list_files
from rleseg.data.formats.video_file import VIDEO_EXTENSIONS, is_video_file

IMAGE_TYPES = "|".join(e.lstrip(".") for e in IMAGE_EXTENSIONS)
VIDEO_TYPES = "|".join(e.lstrip(".") for e in VIDEO_EXTENSIONS)


@dataclass(frozen=True)
class ImageJob:
    """One input image and the files it becomes."""

    image: Path
    mask: Path
    overlay: Path
    instances: Path | None

    def outputs(self) -> list[Path]:
        return [self.mask, self.overlay, *([self.instances] if self.instances is not None else [])]


@dataclass(frozen=True)
class VideoJob:
    """One input video (a folder of frame files, or a video file) and the folders it is written to."""

    name: str
    source: Path
    frames: tuple[Path, ...] | None  # frame files in order; None for a video file
    masks: Path
    overlays: Path
    instances: Path | None
    preview: Path

    def frame_name(self, index: int) -> str:
        """Output file name of frame ``index``: the frame file's stem, or the zero-padded index."""
        return f"{self.frames[index].stem}.png" if self.frames is not None else f"{index:06d}.png"

    def outputs(self) -> list[Path]:
        """The folders and the preview that must not exist before a run without ``--overwrite``."""
        return [self.masks, self.overlays, *([self.instances] if self.instances is not None else []), self.preview]

    def folders(self) -> list[Path]:
        """``masks/X``, ``overlays/X`` and ``instances/X`` (the last also for models without instances: an
        earlier run of an ``iw`` model may have left one)."""
        return [self.masks, self.overlays, self.instances or self.masks.parent.parent / "instances" / self.name]

    def expected_frames(self) -> int | None:
        """Frames of the video: the frame files, or what a video file's header says (None when it does not say
        or cannot be read; the file is not decoded)."""
        return len(self.frames) if self.frames is not None else header_frames(self.source)


def header_frames(path: Path) -> int | None:
    """Frame count of a video file from its header (GIF: Pillow's ``n_frames``; else the first video stream's
    frame count, or its duration times its frame rate); None when it does not say or cannot be read."""
    try:
        if path.suffix.lower() == ".gif":
            from PIL import Image

            with Image.open(path) as img:
                return int(getattr(img, "n_frames", 1))
        import av

        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            if stream.frames:
                return int(stream.frames)
            rate = stream.average_rate or stream.guessed_rate
            if stream.duration and stream.time_base and rate:
                return max(1, round(float(stream.duration * stream.time_base * rate)))
            return None
    except Exception:  # an unreadable header only costs the progress bar its estimate; reading reports it
        return None


def work_units(images: list[ImageJob], videos: list[VideoJob]) -> list[int]:
    """What the progress bar of ``rleseg predict`` counts, per job (the images, then the videos): 1 per image,
    1 per video frame (1 for a video whose frame count its header does not give). Its total is the sum."""
    return [1] * len(images) + [v.expected_frames() or 1 for v in videos]


def remove_stale(job: VideoJob, written: Collection[str]) -> list[Path]:
    """Remove the ``*.png`` files directly in ``job``'s folders (:meth:`VideoJob.folders`) whose names are not
    in ``written`` (the frame files this run wrote); returns them. Sub-folders and other files are kept."""
    keep = set(written)
    removed: list[Path] = []
    for folder in job.folders():
        if not folder.is_dir() or folder.is_symlink():
            continue
        for path in sorted(folder.glob("*.png")):
            if path.name not in keep and (path.is_symlink() or path.is_file()):
                path.unlink()
                removed.append(path)
    return removed


@dataclass(frozen=True)
class _Video:
    name: str
    source: Path
    frames: tuple[Path, ...] | None


def _images_in(folder: Path) -> list[Path]:
    """Visible image files directly in ``folder``, in natural order."""
    return [p for p in list_files(folder) if p.suffix.lower() in IMAGE_EXTENSIONS]


def _frames_folder(folder: Path) -> list[Path]:
    """The images of ``folder``, else of ``folder/images``; empty when neither holds any."""
    found = _images_in(folder)
    if not found and (folder / "images").is_dir():
        found = _images_in(folder / "images")
    return found


def _folder_name(folder: Path) -> str:
    return folder.resolve().name or "video"


def collect(inputs: list[Path], folders_are_videos: bool) -> list[Path | _Video]:
    """Sort the named paths into image files and videos by the rules of the module doc.

    ``folders_are_videos``: a folder of images is one video (video models, ``--video``), not a set of images.
    CommandError naming the path when it does not exist, is neither an image nor a video file, or is a
    folder holding neither images nor videos.
    """
    items: list[Path | _Video] = []
    for path in inputs:
        if path.is_file():
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                items.append(path)
            elif is_video_file(path):
                items.append(_Video(path.stem, path, None))
            else:
                raise CommandError(
                    f"{path}: not an image or video file; expected an image ({IMAGE_TYPES}) or a video ({VIDEO_TYPES})"
                )
        elif path.is_dir():
            items += _collect_folder(path, folders_are_videos)
        else:
            raise CommandError(f"{path}: no such file or folder")
    return items


def _collect_folder(folder: Path, folders_are_videos: bool) -> list[Path | _Video]:
    images = _frames_folder(folder)
    if images:
        return [_Video(_folder_name(folder), folder, tuple(images))] if folders_are_videos else list(images)
    videos: list[Path | _Video] = []
    for sub in list_dirs(folder):
        frames = _frames_folder(sub)
        if frames:
            videos.append(_Video(sub.name, sub, tuple(frames)))
    videos += [_Video(f.stem, f, None) for f in list_files(folder) if is_video_file(f)]
    if not videos:
        raise CommandError(
            f"{folder}: folder holds no images ({IMAGE_TYPES}), no images/ folder, no sub-folders of frames and "
            f"no video files ({VIDEO_TYPES})"
        )
    return videos


def plan(
    items: list[Path | _Video], out: Path, *, instances: bool, overwrite: bool
) -> tuple[list[ImageJob], list[VideoJob]]:
    """Output paths of every image and video; CommandError on two inputs written to one place (naming both),
    on two frames of one video with one name, or on an existing output without ``overwrite``."""
    images: list[ImageJob] = []
    videos: list[VideoJob] = []
    seen: dict[Path, Path] = {}

    def claim(target: Path, source: Path) -> None:
        if target in seen:
            raise CommandError(f"{source} and {seen[target]} would both be written as {target}; rename one")
        seen[target] = source

    for item in items:
        if isinstance(item, Path):
            name = f"{item.stem}.png"
            job = ImageJob(item, out / "masks" / name, out / "overlays" / name, out / "instances" / name)
            claim(job.mask, item)
            images.append(job if instances else ImageJob(job.image, job.mask, job.overlay, None))
            continue
        inst = out / "instances" / item.name if instances else None
        video = VideoJob(
            item.name,
            item.source,
            item.frames,
            out / "masks" / item.name,
            out / "overlays" / item.name,
            inst,
            out / "overlays" / f"{item.name}.gif",
        )
        claim(video.masks, item.source)
        if video.frames is not None:
            names: dict[str, Path] = {}
            for frame in video.frames:
                if frame.stem in names:
                    raise CommandError(
                        f"{frame} and {names[frame.stem]} would both be written as frame "
                        f"{frame.stem}.png of video {item.name}; rename one"
                    )
                names[frame.stem] = frame
        videos.append(video)
    if not overwrite:
        for p in [p for job in images for p in job.outputs()] + [p for v in videos for p in v.outputs()]:
            if p.is_file() or (p.is_dir() and any(p.iterdir())):
                raise CommandError(f"{p} already exists; pass --overwrite to replace it")
    return images, videos
