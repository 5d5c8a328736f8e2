"""Video files: reading their frames as RGB arrays (PyAV for mp4, avi, mov, mkv ...; Pillow for GIF).

Errors are :class:`~rleseg.data.formats.files.DatasetError` (a ``ValueError``) whose message starts with the
file's path and says what was expected.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from rleseg.data.formats.files import DatasetError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".gif")
_HINT = "expected a readable video file (" + "|".join(VIDEO_EXTENSIONS) + ")"


def is_video_file(path: Path) -> bool:
    """Whether ``path`` names a video file by its extension (the file itself is not opened)."""
    return path.suffix.lower() in VIDEO_EXTENSIONS


def iter_frames(path: Path) -> Iterator[np.ndarray]:
    """Decode the frames of a video file one by one, each ``(H, W, 3)`` uint8 RGB.

    GIF frames come from Pillow (composited, palette resolved); every other extension from the first video
    stream through PyAV (FFmpeg). A file that cannot be opened or decoded, holds no video stream or no
    frame raises DatasetError naming it (a decoding error part-way names the frame as well).
    """
    if not path.is_file():
        raise DatasetError(f"{path}: file not found; {_HINT}")
    count = 0
    for frame in _gif_frames(path) if path.suffix.lower() == ".gif" else _av_frames(path):
        count += 1
        yield frame
    if count == 0:
        raise DatasetError(f"{path}: holds no video frames; {_HINT}")


def read_video(path: Path) -> np.ndarray:
    """All frames of a video file, ``(T, H, W, 3)`` uint8 RGB (see :func:`iter_frames`). Holds the whole
    video in memory: T x H x W x 3 bytes."""
    frames = list(iter_frames(path))
    first = frames[0].shape
    for i, frame in enumerate(frames):
        if frame.shape != first:
            raise DatasetError(
                f"{path}: frame {i} is {frame.shape[0]}x{frame.shape[1]} (HxW) but frame 0 is "
                f"{first[0]}x{first[1]}; expected one size for all frames"
            )
    return np.stack(frames)


def frame_rate(path: Path) -> float | None:
    """Frames per second of a video file from its header, or None when it does not say (or is unreadable)."""
    try:
        if path.suffix.lower() == ".gif":
            with Image.open(path) as img:
                ms = img.info.get("duration")
            return 1000.0 / float(ms) if ms else None
        import av

        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            rate = container.streams.video[0].average_rate or container.streams.video[0].guessed_rate
            return float(rate) if rate else None
    except Exception:  # a header we cannot read only costs the preview its timing; iter_frames reports it
        return None


def _gif_frames(path: Path) -> Iterator[np.ndarray]:
    try:
        img = Image.open(path)
    except UnidentifiedImageError as err:
        raise DatasetError(f"{path}: cannot read the file: not a GIF image; {_HINT}") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise DatasetError(f"{path}: cannot read the file ({err}); {_HINT}") from err
    with img:
        i = 0
        try:
            for frame in ImageSequence.Iterator(img):
                yield np.asarray(frame.convert("RGB"), dtype=np.uint8)
                i += 1
        except (OSError, SyntaxError, ValueError) as err:
            raise DatasetError(f"{path}: cannot decode frame {i} ({err}); {_HINT}") from err


def _av_frames(path: Path) -> Iterator[np.ndarray]:
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise DatasetError(f"{path}: cannot read the file ({err}); {_HINT}") from err
    with container:
        if not container.streams.video:
            raise DatasetError(f"{path}: holds no video stream; {_HINT}")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        i = 0
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
                i += 1
        except (av.error.FFmpegError, OSError, ValueError) as err:
            raise DatasetError(f"{path}: cannot decode frame {i} ({err}); {_HINT}") from err
