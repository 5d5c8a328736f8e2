"""COCO panoptic: a panoptic JSON, its folder of id-encoded PNGs, and the images folder.

The JSON holds ``categories`` ``[{id, name, isthing}]`` and ``annotations`` ``[{image_id, file_name,
segments_info: [{id, category_id, iscrowd, ...}]}]`` (and usually ``images`` ``[{id, file_name}]``).
Each annotation PNG encodes a segment id per pixel as ``id = R + 256 G + 256^2 B``; id 0 is void.

Mapping into our convention:
- classes: ``background`` then the category names **in the order of the categories list**; category
  at position ``i`` of that list becomes class id ``i + 1`` (so COCO's sparse ids 1..200 become 1..C).
  ``category_ids[k]`` gives the COCO id of our class ``k`` (None for background).
- class mask: each pixel gets its segment's class; void (id 0) becomes 0.
- instance mask: thing segments (``isthing = 1``) get ids 1..K per image, in the order of
  ``segments_info`` (counting only segments present in the PNG); stuff gets 0. Crowd thing segments
  (``iscrowd = 1``) keep their class with instance 0, or become void when ``crowd_as_void=True``.
- the image is found through ``images[image_id].file_name``, or, without an ``images`` list, as the
  PNG's stem with an image extension.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rleseg.data.formats.base import CheckedSource
from rleseg.data.formats.files import (
    IMAGE_EXTENSIONS,
    LABEL_DTYPE,
    DatasetError,
    attempt,
    open_image,
    read_rgb,
    size_mismatch,
)
from rleseg.data.sample import Sample


@dataclass(frozen=True)
class Segment:
    """One entry of ``segments_info``: its PNG id, our class id, and whether it gets an instance id."""

    id: int
    class_id: int
    is_instance: bool


@dataclass(frozen=True)
class PanopticRecord:
    """One annotated image: the panoptic PNG, the image file, and its segments."""

    name: str
    png: Path
    image: Path
    segments: list[Segment]


def decode_panoptic_rgb(rgb: np.ndarray) -> np.ndarray:
    """Segment ids from a panoptic PNG: ``(H, W, 3)`` uint8 -> ``(H, W)`` int64 ``R + 256 G + 256^2 B``."""
    c = rgb.astype(np.int64)
    return c[..., 0] + 256 * c[..., 1] + 256 * 256 * c[..., 2]


def read_panoptic_png(path: Path) -> np.ndarray:
    """Read a panoptic PNG as ``(H, W)`` int64 segment ids; it must be 8-bit RGB."""
    img = open_image(path)
    if img.mode != "RGB":
        raise DatasetError(f"{path}: panoptic PNG is mode {img.mode}; expected RGB (id = R + 256 G + 256^2 B)")
    return decode_panoptic_rgb(np.asarray(img))


def _load_json(path: Path) -> dict[str, Any]:
    """The parsed panoptic JSON; DatasetError naming it when unreadable or missing a required key."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(f"{path}: cannot read the panoptic JSON ({err})") from err
    for key in ("annotations", "categories"):
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise DatasetError(f"{path}: no {key!r} list; expected a COCO panoptic JSON")
    return data


def _category_table(categories: list[dict[str, Any]], path: Path) -> dict[int, tuple[int, bool]]:
    """COCO category id -> (our class id 1..C in list order, isthing)."""
    table: dict[int, tuple[int, bool]] = {}
    for position, cat in enumerate(categories):
        if not isinstance(cat, dict) or "id" not in cat or "name" not in cat:
            raise DatasetError(f"{path}: categories[{position}] lacks 'id' or 'name'; expected {{id, name, isthing}}")
        if cat["id"] in table:
            raise DatasetError(f"{path}: category id {cat['id']} appears twice in 'categories'")
        table[int(cat["id"])] = (position + 1, bool(cat.get("isthing", 0)))
    return table


class CocoPanopticDataset(CheckedSource):
    """COCO panoptic annotations as class masks and per-image instance ids; one sample per annotation.

    ``json_path``: the panoptic JSON. ``panoptic_dir``: its folder of PNGs. ``images_dir``: the images.
    Samples: image ``(H, W, 3)`` uint8, mask and instances ``(H, W)`` int32, name = PNG stem.
    ``classes``: ``["background", *category names]``; ``category_ids``: COCO id of each class (None first);
    ``thing_classes``: whether each class is a thing. See the module docstring for the mapping.
    """

    def __init__(
        self,
        json_path: str | Path,
        panoptic_dir: str | Path,
        images_dir: str | Path,
        *,
        strict: bool = True,
        crowd_as_void: bool = False,
    ) -> None:
        self.json_path, self.panoptic_dir, self.images_dir = (
            Path(json_path),
            Path(panoptic_dir),
            Path(images_dir),
        )
        self.root = self.json_path
        self.crowd_as_void = crowd_as_void
        data = _load_json(self.json_path)
        self.categories = _category_table(data["categories"], self.json_path)
        self.classes = ["background", *(str(c["name"]) for c in data["categories"])]
        self.category_ids: list[int | None] = [None, *(int(c["id"]) for c in data["categories"])]
        self.thing_classes = [False, *(bool(c.get("isthing", 0)) for c in data["categories"])]
        self.open_problems: list[str] = []
        image_files = {img.get("id"): img.get("file_name") for img in data.get("images", []) if isinstance(img, dict)}
        self.records = [
            r for i, a in enumerate(data["annotations"]) if (r := self._record(i, a, image_files)) is not None
        ]
        if not self.records and not self.open_problems:
            raise DatasetError(f"{self.json_path}: no annotations; expected at least one annotated image")
        self._finish_open(strict)

    def _record(self, index: int, ann: Any, image_files: dict[Any, Any]) -> PanopticRecord | None:
        """Check one annotation entry against the files present; None (with problems noted) if unusable."""
        where = f"{self.json_path}: annotations[{index}]"
        if not isinstance(ann, dict) or "file_name" not in ann or not isinstance(ann.get("segments_info"), list):
            self.open_problems.append(f"{where} lacks 'file_name' or 'segments_info'")
            return None
        png = self.panoptic_dir / str(ann["file_name"])
        if not png.is_file():
            self.open_problems.append(f"{png}: panoptic PNG not found; listed in {where}")
            return None
        image = self._image_path(png, image_files.get(ann.get("image_id")))
        if image is None:
            self.open_problems.append(f"{png}: no image for it in {self.images_dir}; listed in {where}")
            return None
        segments = [s for s in (self._segment(s, where) for s in ann["segments_info"]) if s is not None]
        if len(segments) != len(ann["segments_info"]):
            return None
        return PanopticRecord(png.stem, png, image, segments)

    def _image_path(self, png: Path, file_name: Any) -> Path | None:
        """The image of an annotation: from the ``images`` list, else the PNG stem with an image extension."""
        if file_name is not None:
            path = self.images_dir / str(file_name)
            return path if path.is_file() else None
        candidates = [self.images_dir / (png.stem + ext) for ext in IMAGE_EXTENSIONS]
        return next((p for p in candidates if p.is_file()), None)

    def _segment(self, info: Any, where: str) -> Segment | None:
        """One ``segments_info`` entry mapped to our class ids; None (with a problem) when malformed."""
        if not isinstance(info, dict) or "id" not in info or "category_id" not in info:
            self.open_problems.append(f"{where}: a segments_info entry lacks 'id' or 'category_id'")
            return None
        if info["category_id"] not in self.categories:
            self.open_problems.append(f"{where}: segment {info['id']} has unknown category_id {info['category_id']}")
            return None
        class_id, is_thing = self.categories[info["category_id"]]
        crowd = bool(info.get("iscrowd", 0))
        if crowd and self.crowd_as_void:
            class_id = 0
        return Segment(int(info["id"]), class_id, is_thing and not crowd)

    def __len__(self) -> int:
        return len(self.records)

    def _read(self, index: int) -> tuple[Sample | None, list[str]]:
        record = self.records[index]
        problems: list[str] = []
        image = attempt(read_rgb, record.image, problems)
        ids = attempt(read_panoptic_png, record.png, problems)
        if ids is not None and image is not None and ids.shape != image.shape[:2]:
            problems.append(size_mismatch(record.png, ids.shape, record.image, image.shape, "panoptic PNG"))
        if ids is None or image is None or problems:
            return None, problems
        labels = self._labels(record, ids)
        if isinstance(labels, str):
            return None, [labels]
        return Sample(image, labels[0], labels[1], record.name), []

    def _labels(self, record: PanopticRecord, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | str:
        """Class and instance masks ``(H, W)`` int32 from segment ids ``(H, W)``, or a problem line."""
        present, inverse = np.unique(ids, return_inverse=True)
        by_id = {s.id: s for s in record.segments}
        unknown = [int(i) for i in present if i != 0 and int(i) not in by_id]
        if unknown:
            return (
                f"{record.png}: segment id(s) {unknown[:5]} are not in its segments_info "
                f"in {self.json_path}; expected every non-zero id (R + 256 G + 256^2 B) to be listed"
            )
        present_set = {int(i) for i in present}
        instance_of: dict[int, int] = {}
        for seg in record.segments:
            if seg.is_instance and seg.id in present_set:
                instance_of[seg.id] = len(instance_of) + 1
        class_lut = np.array([by_id[int(i)].class_id if i else 0 for i in present], dtype=LABEL_DTYPE)
        inst_lut = np.array([instance_of.get(int(i), 0) for i in present], dtype=LABEL_DTYPE)
        inverse = inverse.reshape(ids.shape)
        return class_lut[inverse], inst_lut[inverse]
