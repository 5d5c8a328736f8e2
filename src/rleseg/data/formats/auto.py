"""``open_dataset``: open any supported dataset, detecting its format from the folder layout."""

from __future__ import annotations

import re
from pathlib import Path

from rleseg.data.formats.base import CheckedSource
from rleseg.data.formats.cityscapes import CityscapesDataset
from rleseg.data.formats.coco_panoptic import CocoPanopticDataset
from rleseg.data.formats.files import DatasetError, list_dirs
from rleseg.data.formats.folder import FolderDataset
from rleseg.data.formats.video import VideoFolderDataset

FORMATS = ("folder", "video-folder", "coco-panoptic", "cityscapes")
LOOKED_FOR = (
    "images/ and masks/ (folder)",
    "<video>/images/ and <video>/masks/ (video-folder)",
    "annotations/panoptic_<split>.json or panoptic_<split>.json, or a .json path (coco-panoptic)",
    "leftImg8bit/ and gtFine/ (cityscapes)",
)


def _split_root(path: Path, split: str | None) -> Path:
    """The folder of a split for the folder formats: ``path/<split>`` when a split is given."""
    return path / split if split else path


def _coco_jsons(path: Path) -> list[Path]:
    """Panoptic JSON candidates: the path itself if it is a .json, else ``[annotations/]panoptic_*.json``."""
    if path.suffix.lower() == ".json":
        return [path]
    if not path.is_dir():
        return []
    return sorted([*path.glob("annotations/panoptic_*.json"), *path.glob("panoptic_*.json")])


def detect_format(path: str | Path, split: str | None = None) -> str:
    """Name of the format (one of :data:`FORMATS`) whose layout ``path`` has; DatasetError if none fits.

    Checked in this order: cityscapes, coco-panoptic, folder, video-folder.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: not found; expected a dataset folder (or a COCO panoptic .json file)")
    if (path / "leftImg8bit").is_dir() and (path / "gtFine").is_dir():
        return "cityscapes"
    if _coco_jsons(path):
        return "coco-panoptic"
    root = _split_root(path, split)
    if (root / "images").is_dir():
        return "folder"
    if root.is_dir() and any((d / "images").is_dir() for d in list_dirs(root)):
        return "video-folder"
    where = f"{path} (split {split!r})" if split else str(path)
    raise DatasetError(f"{where}: cannot detect the dataset format; looked for " + "; ".join(LOOKED_FOR))


def _only_split(available: list[str], split: str | None, where: Path) -> str:
    """The split to open: the one asked for, or the only one available."""
    if split is not None:
        if split not in available:
            raise DatasetError(f"{where}: no split {split!r}; expected one of {', '.join(available) or 'none'}")
        return split
    if len(available) != 1:
        raise DatasetError(f"{where}: holds splits {', '.join(available) or 'none'}; pass split= to choose one")
    return available[0]


def _coco_split(stem: str) -> str:
    """``panoptic_val2017`` -> ``val2017``."""
    return stem.removeprefix("panoptic_")


def _open_coco(path: Path, split: str | None, strict: bool) -> CocoPanopticDataset:
    """Find the JSON, PNG folder and images folder of a COCO panoptic split and open them."""
    jsons = {_coco_split(p.stem): p for p in _coco_jsons(path)}
    if split is not None and split not in jsons:  # "val" also matches "val2017"
        jsons = {k: v for k, v in jsons.items() if re.fullmatch(re.escape(split) + r"\d*", k)}
        if len(jsons) == 1:
            split = next(iter(jsons))
    tag = _only_split(sorted(jsons), split, path)
    json_path = jsons[tag]
    root = json_path.parent.parent if json_path.parent.name == "annotations" else json_path.parent
    png_dir = _first_dir([json_path.with_suffix(""), root / json_path.stem], "panoptic PNG folder")
    images_dir = _first_dir([root / tag, root / "images" / tag, root / "images"], "images folder")
    return CocoPanopticDataset(json_path, png_dir, images_dir, strict=strict)


def _first_dir(candidates: list[Path], what: str) -> Path:
    """The first existing folder among ``candidates``; DatasetError listing them all if none exists."""
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise DatasetError(f"{candidates[0]}: {what} not found; looked for " + ", ".join(map(str, candidates)))


def open_dataset(
    path: str | Path, format: str = "auto", split: str | None = None, *, strict: bool = True
) -> CheckedSource:
    """Open a segmentation dataset as a :class:`~rleseg.data.sample.SegmentationSource`.

    ``format``: ``"auto"`` (detect from the layout, see :func:`detect_format`) or one of :data:`FORMATS`.
    ``split``: for folder / video-folder, a sub-folder of ``path`` (``path/<split>/images`` ...); for
    cityscapes, ``leftImg8bit/<split>``; for COCO, the JSON ``panoptic_<split>.json`` (``val`` also finds
    ``val2017``). When None, cityscapes and COCO use their only split and raise if there are several.
    ``strict``: raise at open on any pairing problem; False keeps what is usable and lets ``validate()``
    report the rest. Samples: ``(H, W, 3)`` / ``(T, H, W, 3)`` uint8 images, int32 masks and instances.
    """
    path = Path(path)
    fmt = detect_format(path, split) if format == "auto" else format
    if fmt == "folder":
        return FolderDataset(_split_root(path, split), strict=strict)
    if fmt == "video-folder":
        return VideoFolderDataset(_split_root(path, split), strict=strict)
    if fmt == "coco-panoptic":
        return _open_coco(path, split, strict)
    if fmt == "cityscapes":
        available = [d.name for d in list_dirs(path / "leftImg8bit")] if (path / "leftImg8bit").is_dir() else []
        return CityscapesDataset(path, _only_split(available, split, path / "leftImg8bit"), strict=strict)
    raise ValueError(f"unknown dataset format {format!r}; expected 'auto' or one of {', '.join(FORMATS)}")
