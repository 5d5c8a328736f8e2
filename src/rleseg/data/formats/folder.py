"""The plain folder format: ``images/``, ``masks/``, optional ``instances/`` and ``classes.txt``.

Layout (``<name>`` pairs the files; image extensions are matched case-insensitively)::

    root/
      images/<name>.png|jpg|jpeg|tif|tiff   any RGB, grayscale or 16-bit image
      masks/<name>.png                      single channel, class ids, 0 = background
      instances/<name>.png                  optional, 8/16-bit instance ids, 0 = none
      classes.txt                           optional, one class name per line, background first

Pairing is checked at open (file names only); every file is decoded and checked on read.
If ``instances/`` exists, every image needs an instance file. Dot-files are ignored; any other file
in these folders that does not fit the layout is a problem. Sub-folders are ignored.

Without ``classes.txt`` the classes are ``background, class_1, ..., class_<K>`` with ``K`` the largest id
in any mask. The masks are scanned **lazily**, on the first access of ``classes`` (which reads every
mask once); write a ``classes.txt`` to skip the scan. Reading samples does not trigger it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rleseg.data.formats.base import CheckedSource
from rleseg.data.formats.files import (
    IMAGE_EXTENSIONS,
    DatasetError,
    attempt,
    default_classes,
    list_files,
    read_classes_txt,
    read_label,
    read_rgb,
    size_mismatch,
)
from rleseg.data.sample import Sample

_IMAGE_EXT = "|".join(IMAGE_EXTENSIONS)  # ".png|.jpg|.jpeg|.tif|.tiff", for messages
LAYOUT_HINT = f"expected images/<name>{_IMAGE_EXT} and masks/<name>.png"


@dataclass(frozen=True)
class FrameFiles:
    """The files of one image (or video frame): image, class mask and optional instance mask."""

    name: str
    image: Path
    mask: Path
    instances: Path | None


@dataclass
class Frame:
    """Decoded arrays of one frame: image ``(H, W, 3)`` uint8, mask and instances ``(H, W)`` int32."""

    image: np.ndarray
    mask: np.ndarray
    instances: np.ndarray | None


@dataclass
class ClassList:
    """Class names declared in a ``classes.txt`` (None when there is none), and that file's path."""

    names: list[str] | None
    path: Path | None

    @property
    def num_classes(self) -> int | None:
        """Number of foreground classes C (ids 1..C), or None when undeclared."""
        return None if self.names is None else len(self.names) - 1


def _index_by_stem(files: list[Path], suffixes: tuple[str, ...], role: str, problems: list[str]) -> dict[str, Path]:
    """Map file stem -> path; files with another extension, or a stem used twice, become problems."""
    by_stem: dict[str, Path] = {}
    for path in files:
        if path.suffix.lower() not in suffixes:
            problems.append(f"{path}: unexpected file in the {role} folder; expected extension {'|'.join(suffixes)}")
        elif path.stem in by_stem:
            problems.append(f"{path}: {role} name {path.stem!r} is also used by {by_stem[path.stem]}")
        else:
            by_stem[path.stem] = path
    return by_stem


def _unpaired(
    have: dict[str, Path], need: dict[str, Path], role: str, folder: Path, ext: str, problems: list[str]
) -> None:
    """Add a problem for every file of ``have`` without a partner of the same name in ``need``."""
    for stem, path in have.items():
        if stem not in need:
            problems.append(f"{path}: has no {role}; expected {folder / stem}{ext}")


def pair_folder(root: Path) -> tuple[list[FrameFiles], list[str], bool]:
    """Pair the files of one folder-format directory by name, without decoding them.

    Returns (frames in natural name order, problems one line each, whether ``instances/`` exists).
    Raises DatasetError when ``images/`` or ``masks/`` is missing or holds no files.
    """
    images_dir, masks_dir, inst_dir = root / "images", root / "masks", root / "instances"
    for folder in (images_dir, masks_dir):
        if not folder.is_dir():
            raise DatasetError(f"{folder}: folder not found; {LAYOUT_HINT}")
    problems: list[str] = []
    images = _index_by_stem(list_files(images_dir), IMAGE_EXTENSIONS, "image", problems)
    masks = _index_by_stem(list_files(masks_dir), (".png",), "mask", problems)
    if not images and not masks and not problems:
        raise DatasetError(f"{images_dir}: no images found; {LAYOUT_HINT}")
    _unpaired(images, masks, "mask", masks_dir, ".png", problems)
    _unpaired(masks, images, "image", images_dir, _IMAGE_EXT, problems)
    has_inst = inst_dir.is_dir()
    inst = _index_by_stem(list_files(inst_dir), (".png",), "instance mask", problems) if has_inst else {}
    if has_inst:
        _unpaired(images, inst, "instance mask", inst_dir, ".png", problems)
        _unpaired(inst, images, "image", images_dir, _IMAGE_EXT, problems)
    frames = [
        FrameFiles(stem, path, masks[stem], inst.get(stem))
        for stem, path in images.items()
        if stem in masks and (not has_inst or stem in inst)
    ]
    return frames, problems, has_inst


def read_frame(files: FrameFiles, classes: ClassList) -> tuple[Frame | None, list[str]]:
    """Decode one frame and check it: sizes agree, class ids within the declared classes.

    Returns (the frame, []) or (None, one line per problem, each naming its file).
    """
    problems: list[str] = []
    image = attempt(read_rgb, files.image, problems)
    mask = attempt(lambda p: read_label(p, "mask"), files.mask, problems)
    inst, inst_path = None, files.instances
    if inst_path is not None:
        inst = attempt(lambda p: read_label(p, "instance mask"), inst_path, problems)
    if image is not None and mask is not None and mask.shape != image.shape[:2]:
        problems.append(size_mismatch(files.mask, mask.shape, files.image, image.shape, "mask"))
    ref, ref_path = (image, files.image) if image is not None else (mask, files.mask)
    if inst is not None and inst_path is not None and ref is not None and inst.shape != ref.shape[:2]:
        problems.append(size_mismatch(inst_path, inst.shape, ref_path, ref.shape, "instance mask"))
    limit = classes.num_classes
    if mask is not None and limit is not None and mask.size and int(mask.max()) > limit:
        problems.append(
            f"{files.mask}: holds class id {int(mask.max())} but {classes.path} lists {limit} classes; "
            f"expected ids 0..{limit}"
        )
    if problems or image is None or mask is None:
        return None, problems
    return Frame(image, mask, inst), []


def read_class_list(path: Path, problems: list[str] | None = None) -> ClassList:
    """The ``classes.txt`` at ``path`` if it exists; its errors raise, or go to ``problems`` when given."""
    if not path.is_file():
        return ClassList(None, None)
    if problems is None:
        return ClassList(read_classes_txt(path), path)
    names = attempt(read_classes_txt, path, problems)
    return ClassList(names, path if names is not None else None)


def scan_max_id(masks: list[Path]) -> int:
    """Largest class id over the given mask files (reads each one); 0 for none."""
    return max((int(read_label(p, "mask").max(initial=0)) for p in masks), default=0)


class FolderDataset(CheckedSource):
    """Images with class masks (and optional instance masks) in the folder layout; one sample per image.

    ``root``: the folder holding ``images/`` and ``masks/``. ``strict``: raise at open on pairing problems
    (default), or keep the good pairs and report the rest through :meth:`validate`.
    Samples: image ``(H, W, 3)`` uint8, mask and instances ``(H, W)`` int32, name = file stem.
    """

    def __init__(self, root: str | Path, *, strict: bool = True) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: folder not found; {LAYOUT_HINT}")
        self.frames, self.open_problems, self.has_instances = pair_folder(self.root)
        self.class_list = read_class_list(self.root / "classes.txt", None if strict else self.open_problems)
        self._classes: list[str] | None = self.class_list.names
        self._finish_open(strict)

    @property
    def classes(self) -> list[str]:
        """Class names, background first; from ``classes.txt`` or from a one-off scan of all masks."""
        if self._classes is None:
            self._classes = default_classes(scan_max_id([f.mask for f in self.frames]))
        return self._classes

    def __len__(self) -> int:
        return len(self.frames)

    def _read(self, index: int) -> tuple[Sample | None, list[str]]:
        files = self.frames[index]
        frame, problems = read_frame(files, self.class_list)
        if frame is None:
            return None, problems
        return Sample(frame.image, frame.mask, frame.instances, files.name), []
