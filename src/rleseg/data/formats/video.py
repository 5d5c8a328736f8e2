"""The video folder format: one sub-folder per video, each in the folder layout; a sample is a whole video.

Layout::

    root/
      classes.txt                 optional, shared by all videos
      <video>/images/<frame>.png  frames ordered by natural sort of <frame> (frame_9 before frame_10)
      <video>/masks/<frame>.png
      <video>/instances/<frame>.png   optional (all videos or none)
      <video>/classes.txt         optional; must agree with the root's and with the other videos'

All frames of one video must share a size. Every visible sub-folder of ``root`` must be a video.
Without any ``classes.txt`` the classes come from a lazy scan of all masks, as in the folder format.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rleseg.data.formats.base import CheckedSource
from rleseg.data.formats.files import DatasetError, default_classes, list_dirs
from rleseg.data.formats.folder import (
    LAYOUT_HINT,
    ClassList,
    Frame,
    FrameFiles,
    pair_folder,
    read_class_list,
    read_frame,
    scan_max_id,
)
from rleseg.data.sample import Sample


@dataclass(frozen=True)
class VideoFiles:
    """One video: its folder name and the files of its frames, in order."""

    name: str
    folder: Path
    frames: list[FrameFiles]


def _pair_video(folder: Path, problems: list[str]) -> tuple[VideoFiles | None, bool | None]:
    """Pair one video's frames; returns (video or None when unusable, whether it has instances/)."""
    if not (folder / "images").is_dir():
        problems.append(f"{folder}: not a video folder; {LAYOUT_HINT} inside it")
        return None, None
    try:
        frames, found, has_inst = pair_folder(folder)
    except DatasetError as err:
        problems.append(str(err))
        return None, None
    problems.extend(found)
    return (VideoFiles(folder.name, folder, frames) if frames else None), has_inst


def _shared_classes(root: Path, videos: list[VideoFiles], problems: list[str]) -> ClassList:
    """The one class list of the dataset: root ``classes.txt``, else the videos' (which must agree)."""
    chosen = read_class_list(root / "classes.txt", problems)
    for video in videos:
        own = read_class_list(video.folder / "classes.txt", problems)
        if own.names is None:
            continue
        if chosen.names is None:
            chosen = own
        elif own.names != chosen.names:
            problems.append(f"{own.path}: class list differs from {chosen.path}; expected the same classes")
    return chosen


class VideoFolderDataset(CheckedSource):
    """Videos in the video-folder layout; one sample per video.

    Samples: image ``(T, H, W, 3)`` uint8, mask and instances ``(T, H, W)`` int32 (instances None when
    there is no ``instances/``), name = the video's folder name. ``strict`` as in :class:`FolderDataset`.
    """

    def __init__(self, root: str | Path, *, strict: bool = True) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: folder not found; expected one sub-folder per video")
        self.open_problems: list[str] = []
        self.videos: list[VideoFiles] = []
        inst_flags: dict[Path, bool] = {}
        for folder in list_dirs(self.root):
            video, has_inst = _pair_video(folder, self.open_problems)
            if video is not None and has_inst is not None:
                self.videos.append(video)
                inst_flags[folder] = has_inst
        if not self.videos and not self.open_problems:
            raise DatasetError(f"{self.root}: no video folders found; expected <video>/images/ and <video>/masks/")
        self._check_instances_everywhere(inst_flags)
        self.has_instances = any(inst_flags.values())
        self.class_list = _shared_classes(self.root, self.videos, self.open_problems)
        self._classes: list[str] | None = self.class_list.names
        self._finish_open(strict)

    def _check_instances_everywhere(self, flags: dict[Path, bool]) -> None:
        """Instances must be given for all videos or none."""
        if any(flags.values()):
            for folder, has in flags.items():
                if not has:
                    self.open_problems.append(
                        f"{folder}: has no instances/ folder but other videos do; expected it in every video"
                    )

    @property
    def classes(self) -> list[str]:
        """Class names, background first; from ``classes.txt`` or a one-off scan of all masks."""
        if self._classes is None:
            masks = [f.mask for video in self.videos for f in video.frames]
            self._classes = default_classes(scan_max_id(masks))
        return self._classes

    def __len__(self) -> int:
        return len(self.videos)

    def _read(self, index: int) -> tuple[Sample | None, list[str]]:
        video = self.videos[index]
        decoded: list[tuple[FrameFiles, Frame]] = []
        problems: list[str] = []
        for files in video.frames:
            frame, found = read_frame(files, self.class_list)
            problems.extend(found)
            if frame is not None:
                decoded.append((files, frame))
        problems.extend(_frame_size_problems(decoded))
        if problems or not decoded:
            return None, problems
        return _stack([frame for _, frame in decoded], video.name), []


def _frame_size_problems(decoded: list[tuple[FrameFiles, Frame]]) -> list[str]:
    """One problem per frame whose size differs from the first frame of its video."""
    if not decoded:
        return []
    first_files, first = decoded[0]
    h, w = first.image.shape[:2]
    return [
        f"{files.image}: frame is {frame.image.shape[0]}x{frame.image.shape[1]} (HxW) but the first frame "
        f"{first_files.image} is {h}x{w}; expected all frames of a video to share a size"
        for files, frame in decoded[1:]
        if frame.image.shape != first.image.shape
    ]


def _stack(frames: list[Frame], name: str) -> Sample:
    """Stack frames into a video sample: ``(T, H, W, 3)`` image, ``(T, H, W)`` mask and instances."""
    image = np.stack([f.image for f in frames])
    mask = np.stack([f.mask for f in frames])
    inst_frames = [f.instances for f in frames if f.instances is not None]
    inst = np.stack(inst_frames) if len(inst_frames) == len(frames) else None
    return Sample(image, mask, inst, name)
