"""Cityscapes (fine annotations) mapped to the 19 standard training classes.

Layout::

    root/leftImg8bit/<split>/<city>/<name>_leftImg8bit.png
    root/gtFine/<split>/<city>/<name>_gtFine_labelIds.png      8-bit label ids 0..33
    root/gtFine/<split>/<city>/<name>_gtFine_instanceIds.png   optional (all or none), 16/32-bit

Mapping into our convention:
- class mask: label id -> the standard train id (cityscapesScripts ``labels.py``) plus one, so the
  19 train classes are 1..19 in :data:`CITYSCAPES_CLASSES` order; every label with train id 255 or -1
  (void, ignored) becomes 0 = background.
- instance mask: instance-file values >= 1000 are ``label_id * 1000 + k``; each such value whose label
  is a thing train class (person, rider, car, truck, bus, train, motorcycle, bicycle) gets a per-image
  id 1..K in increasing order of the value; everything else is 0 (stuff, crowd regions stored as a plain
  label id < 1000, and caravan/trailer, which have instances but no train id).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rleseg.data.formats.base import CheckedSource
from rleseg.data.formats.files import (
    LABEL_DTYPE,
    DatasetError,
    attempt,
    list_dirs,
    list_files,
    natural_key,
    read_label,
    read_rgb,
    size_mismatch,
)
from rleseg.data.sample import Sample

# (label id, name, train id) for all 34 Cityscapes labels; 255 = ignored in training/evaluation.
CITYSCAPES_LABELS: tuple[tuple[int, str, int], ...] = (
    (0, "unlabeled", 255),
    (1, "ego vehicle", 255),
    (2, "rectification border", 255),
    (3, "out of roi", 255),
    (4, "static", 255),
    (5, "dynamic", 255),
    (6, "ground", 255),
    (7, "road", 0),
    (8, "sidewalk", 1),
    (9, "parking", 255),
    (10, "rail track", 255),
    (11, "building", 2),
    (12, "wall", 3),
    (13, "fence", 4),
    (14, "guard rail", 255),
    (15, "bridge", 255),
    (16, "tunnel", 255),
    (17, "pole", 5),
    (18, "polegroup", 255),
    (19, "traffic light", 6),
    (20, "traffic sign", 7),
    (21, "vegetation", 8),
    (22, "terrain", 9),
    (23, "sky", 10),
    (24, "person", 11),
    (25, "rider", 12),
    (26, "car", 13),
    (27, "truck", 14),
    (28, "bus", 15),
    (29, "caravan", 255),
    (30, "trailer", 255),
    (31, "train", 16),
    (32, "motorcycle", 17),
    (33, "bicycle", 18),
)
IGNORE_TRAIN_ID = 255
# Our class list: background (all ignored labels) then the 19 train classes, class id = train id + 1.
CITYSCAPES_CLASSES: tuple[str, ...] = (
    "background",
    *(name for _, name, train in sorted(CITYSCAPES_LABELS, key=lambda r: r[2]) if train != IGNORE_TRAIN_ID),
)
CITYSCAPES_THING_NAMES = ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
INSTANCE_SUFFIX = "_gtFine_instanceIds.png"


def label_to_class_table() -> np.ndarray:
    """Lookup table ``(256,)`` int32: Cityscapes label id -> our class id (train id + 1, ignored -> 0)."""
    table = np.zeros(256, dtype=LABEL_DTYPE)
    for label, _, train in CITYSCAPES_LABELS:
        table[label] = 0 if train == IGNORE_TRAIN_ID else train + 1
    return table


LABEL_TO_CLASS = label_to_class_table()
THING_CLASS_IDS = frozenset(CITYSCAPES_CLASSES.index(n) for n in CITYSCAPES_THING_NAMES)
NUM_LABEL_IDS = len(CITYSCAPES_LABELS)  # valid label ids are 0..33


def labels_to_classes(label_ids: np.ndarray) -> np.ndarray:
    """Map label ids ``(H, W)`` (0..33) to our class ids ``(H, W)`` int32 in 0..19."""
    return LABEL_TO_CLASS[label_ids]


def instances_to_ids(instance_ids: np.ndarray) -> np.ndarray:
    """Map a Cityscapes instanceIds array ``(H, W)`` to per-image instance ids ``(H, W)`` int32.

    Values >= 1000 (``label * 1000 + k``) of thing classes become 1..K in increasing value order; rest 0.
    """
    values, inverse = np.unique(instance_ids, return_inverse=True)
    labels = np.minimum(values // 1000, 255)
    is_thing = (values >= 1000) & np.isin(LABEL_TO_CLASS[labels], list(THING_CLASS_IDS))
    lut = np.zeros(len(values), dtype=LABEL_DTYPE)
    lut[is_thing] = np.arange(1, int(is_thing.sum()) + 1, dtype=LABEL_DTYPE)
    return lut[inverse.reshape(instance_ids.shape)]


@dataclass(frozen=True)
class CityscapesFiles:
    """The files of one Cityscapes image: image, labelIds, optional instanceIds."""

    name: str
    image: Path
    labels: Path
    instances: Path | None


def _scan(folder: Path, suffix: str) -> dict[str, Path]:
    """``<name>`` -> path for every ``<city>/<name><suffix>`` under ``folder``."""
    found: dict[str, Path] = {}
    for city in list_dirs(folder):
        for path in list_files(city):
            if path.name.endswith(suffix):
                found[path.name[: -len(suffix)]] = path
    return found


class CityscapesDataset(CheckedSource):
    """Cityscapes fine annotations of one split, with the 19 train classes; one sample per image.

    ``root``: the folder holding ``leftImg8bit/`` and ``gtFine/``. ``split``: ``train``, ``val``, ``test`` ...
    Samples: image ``(H, W, 3)`` uint8, mask ``(H, W)`` int32 in 0..19, instances ``(H, W)`` int32 (None
    when the split has no instanceIds files), name = ``<city>_<seq>_<frame>``. ``strict`` as in the others.
    """

    classes: tuple[str, ...] = CITYSCAPES_CLASSES
    thing_classes: tuple[bool, ...] = tuple(i in THING_CLASS_IDS for i in range(len(CITYSCAPES_CLASSES)))

    def __init__(self, root: str | Path, split: str = "train", *, strict: bool = True) -> None:
        self.root, self.split = Path(root), split
        image_dir, gt_dir = self.root / "leftImg8bit" / split, self.root / "gtFine" / split
        for folder in (image_dir, gt_dir):
            if not folder.is_dir():
                raise DatasetError(f"{folder}: folder not found; expected leftImg8bit/{split}/ and gtFine/{split}/")
        images, labels = _scan(image_dir, IMAGE_SUFFIX), _scan(gt_dir, LABEL_SUFFIX)
        instances = _scan(gt_dir, INSTANCE_SUFFIX)
        if not images and not labels:
            raise DatasetError(f"{image_dir}: no <city>/<name>{IMAGE_SUFFIX} images found")
        self.open_problems = _pairing_problems(images, labels, instances)
        self.has_instances = bool(instances)
        self.files = [
            CityscapesFiles(name, path, labels[name], instances.get(name))
            for name, path in sorted(images.items(), key=lambda item: natural_key(item[0]))
            if name in labels and (not instances or name in instances)
        ]
        self._finish_open(strict)

    def __len__(self) -> int:
        return len(self.files)

    def _read(self, index: int) -> tuple[Sample | None, list[str]]:
        files = self.files[index]
        problems: list[str] = []
        image = attempt(read_rgb, files.image, problems)
        labels = attempt(lambda p: read_label(p, "labelIds file"), files.labels, problems)
        inst = None
        if files.instances is not None:
            inst = attempt(lambda p: read_label(p, "instanceIds file"), files.instances, problems)
        if labels is not None and labels.size and int(labels.max()) >= NUM_LABEL_IDS:
            problems.append(f"{files.labels}: holds label id {int(labels.max())}; expected Cityscapes label ids 0..33")
        for path, arr in ((files.labels, labels), (files.instances, inst)):
            if path is not None and arr is not None and image is not None and arr.shape != image.shape[:2]:
                problems.append(size_mismatch(path, arr.shape, files.image, image.shape, "label file"))
        if problems or image is None or labels is None:
            return None, problems
        instances = None if inst is None else instances_to_ids(inst)
        return Sample(image, labels_to_classes(labels), instances, files.name), []


def _pairing_problems(images: dict[str, Path], labels: dict[str, Path], instances: dict[str, Path]) -> list[str]:
    """Images without labelIds (or instanceIds, when the split has any) and label files without images."""
    problems = [f"{p}: has no {n}{LABEL_SUFFIX} in gtFine" for n, p in images.items() if n not in labels]
    problems += [f"{p}: has no image {n}{IMAGE_SUFFIX} in leftImg8bit" for n, p in labels.items() if n not in images]
    if instances:
        problems += [f"{p}: has no {n}{INSTANCE_SUFFIX} in gtFine" for n, p in images.items() if n not in instances]
    return problems
