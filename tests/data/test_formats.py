"""Dataset readers: tiny datasets of every format written with PIL, read back exactly; malformed data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rleseg.data.formats import (
    CITYSCAPES_CLASSES,
    CityscapesDataset,
    CocoPanopticDataset,
    DatasetError,
    FolderDataset,
    VideoFolderDataset,
    detect_format,
    open_dataset,
)
from rleseg.data.sample import SegmentationSource, check_sample

H, W = 24, 32


def rgb(seed: int, h: int = H, w: int = W) -> np.ndarray:
    """A random ``(h, w, 3)`` uint8 image."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def labels(seed: int, high: int, h: int = H, w: int = W) -> np.ndarray:
    """A random ``(h, w)`` label array with ids in ``[0, high]``."""
    return np.random.default_rng(seed).integers(0, high + 1, (h, w)).astype(np.uint8)


def save(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    """Write ``array`` with PIL (16-bit when ``mode='I;16'``), creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "I;16":
        Image.fromarray(array.astype(np.uint16)).save(path)
    else:
        Image.fromarray(array).save(path)
    return path


def make_folder(root: Path, n: int = 2, classes: list[str] | None = None, high: int = 2) -> dict[str, dict]:
    """A folder-format dataset of ``n`` PNG images named s0, s1 ...; returns the arrays written."""
    written = {}
    for i in range(n):
        image, mask = rgb(i), labels(100 + i, high)
        save(root / "images" / f"s{i}.png", image)
        save(root / "masks" / f"s{i}.png", mask)
        written[f"s{i}"] = {"image": image, "mask": mask}
    if classes is not None:
        (root / "classes.txt").write_text("\n".join(classes) + "\n")
    return written


def assert_names_problem(err: pytest.ExceptionInfo, path: Path, *words: str) -> None:
    """The error message names ``path`` and contains every word of ``words``."""
    message = str(err.value)
    assert str(path) in message, message
    for word in words:
        assert word in message, message


# ---------------------------------------------------------------------------------------------------- folder


def test_folder_reads_rgb_tiff_grayscale_and_16bit_instances(tmp_path: Path) -> None:
    image_a, image_b, gray = rgb(1), rgb(2), labels(3, 255)
    save(tmp_path / "images" / "a.png", image_a)
    save(tmp_path / "images" / "b.TIF", image_b)
    save(tmp_path / "images" / "c.jpeg", gray)  # grayscale JPEG: lossy, compared with Pillow's own decode
    masks = {name: labels(10 + i, 3) for i, name in enumerate("abc")}
    insts = {name: labels(20 + i, 3).astype(np.uint16) * 700 for i, name in enumerate("abc")}  # up to 2100
    for name in "abc":
        save(tmp_path / "masks" / f"{name}.png", masks[name])
        save(tmp_path / "instances" / f"{name}.png", insts[name], mode="I;16")
    (tmp_path / "classes.txt").write_text("background\ncell\nnucleus\n\nmembrane\n")

    ds = FolderDataset(tmp_path)
    assert isinstance(ds, SegmentationSource)
    assert ds.classes == ["background", "cell", "nucleus", "membrane"]
    assert len(ds) == 3 and [ds[i].name for i in range(3)] == ["a", "b", "c"]
    gray_decoded = np.asarray(Image.open(tmp_path / "images" / "c.jpeg"))
    for sample, image in zip((ds[0], ds[1], ds[2]), (image_a, image_b, np.stack([gray_decoded] * 3, -1)), strict=True):
        check_sample(sample, len(ds.classes) - 1, sample.name)
        assert sample.image.dtype == np.uint8 and sample.image.shape == (H, W, 3)
        np.testing.assert_array_equal(sample.image, image)
        np.testing.assert_array_equal(sample.mask, masks[sample.name])
        assert sample.instances is not None and sample.instances.max() > 255
        np.testing.assert_array_equal(sample.instances, insts[sample.name])
    assert ds[-1].name == "c"
    assert ds.validate() == []


def test_folder_16bit_image_is_scaled_by_its_own_min_max(tmp_path: Path) -> None:
    raw = np.array([[1000, 2000], [3000, 1500]], dtype=np.uint16)
    save(tmp_path / "images" / "x.png", raw, mode="I;16")
    save(tmp_path / "masks" / "x.png", np.zeros((2, 2), np.uint8))
    image = FolderDataset(tmp_path)[0].image
    expected = np.round((raw.astype(float) - 1000) * 255 / 2000).astype(np.uint8)  # [[0, 128], [255, 64]]
    np.testing.assert_array_equal(image, np.stack([expected] * 3, -1))


def test_folder_without_classes_txt_scans_the_largest_id(tmp_path: Path) -> None:
    make_folder(tmp_path, n=2, high=1)
    save(tmp_path / "masks" / "s1.png", np.full((H, W), 4, np.uint8))
    ds = FolderDataset(tmp_path)
    assert ds[0].instances is None
    assert ds.classes == ["background", "class_1", "class_2", "class_3", "class_4"]


def test_folder_orders_samples_naturally(tmp_path: Path) -> None:
    for i, name in enumerate(["img10", "img2", "img1"]):
        save(tmp_path / "images" / f"{name}.png", rgb(i))
        save(tmp_path / "masks" / f"{name}.png", labels(i, 1))
    ds = FolderDataset(tmp_path)
    assert [ds[i].name for i in range(3)] == ["img1", "img2", "img10"]


def test_missing_mask_names_the_image(tmp_path: Path) -> None:
    make_folder(tmp_path, n=2)
    (tmp_path / "masks" / "s1.png").unlink()
    with pytest.raises(DatasetError) as err:
        FolderDataset(tmp_path)
    assert_names_problem(err, tmp_path / "images" / "s1.png", "has no mask", str(tmp_path / "masks" / "s1.png"))


def test_mask_without_image_names_the_mask(tmp_path: Path) -> None:
    make_folder(tmp_path, n=2)
    (tmp_path / "images" / "s0.png").unlink()
    with pytest.raises(ValueError) as err:
        FolderDataset(tmp_path)
    assert_names_problem(err, tmp_path / "masks" / "s0.png", "has no image")


def test_size_mismatch_names_both_files(tmp_path: Path) -> None:
    make_folder(tmp_path, n=1)
    save(tmp_path / "masks" / "s0.png", labels(0, 1, h=H, w=W - 2))
    ds = FolderDataset(tmp_path)  # pairing is fine; sizes are checked on read
    with pytest.raises(DatasetError) as err:
        ds[0]
    assert_names_problem(err, tmp_path / "masks" / "s0.png", "24x30", "24x32", str(tmp_path / "images" / "s0.png"))


def test_instances_size_mismatch(tmp_path: Path) -> None:
    make_folder(tmp_path, n=1)
    save(tmp_path / "instances" / "s0.png", np.zeros((H + 1, W), np.uint16), mode="I;16")
    with pytest.raises(DatasetError) as err:
        FolderDataset(tmp_path)[0]
    assert_names_problem(err, tmp_path / "instances" / "s0.png", "instance mask is 25x32", "same size")


def test_class_id_above_classes_txt(tmp_path: Path) -> None:
    make_folder(tmp_path, n=2, classes=["background", "a", "b"], high=2)
    save(tmp_path / "masks" / "s1.png", np.full((H, W), 5, np.uint8))
    ds = FolderDataset(tmp_path)
    ds[0]
    with pytest.raises(DatasetError) as err:
        ds[1]
    assert_names_problem(err, tmp_path / "masks" / "s1.png", "class id 5", "2 classes", "classes.txt")


def test_unreadable_file(tmp_path: Path) -> None:
    make_folder(tmp_path, n=1)
    (tmp_path / "images" / "s0.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(DatasetError) as err:
        FolderDataset(tmp_path)[0]
    assert_names_problem(err, tmp_path / "images" / "s0.png", "cannot read")


def test_truncated_image(tmp_path: Path) -> None:
    make_folder(tmp_path, n=1)
    path = tmp_path / "images" / "s0.png"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetError) as err:
        FolderDataset(tmp_path)[0]
    assert_names_problem(err, path, "cannot read")


def test_empty_folder_and_missing_images_dir(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        FolderDataset(tmp_path)
    assert_names_problem(err, tmp_path / "images", "folder not found")
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(DatasetError) as err:
        FolderDataset(tmp_path)
    assert_names_problem(err, tmp_path / "images", "no images found")


def test_rgb_mask_is_rejected(tmp_path: Path) -> None:
    make_folder(tmp_path, n=1)
    save(tmp_path / "masks" / "s0.png", np.zeros((H, W, 3), np.uint8))
    with pytest.raises(DatasetError) as err:
        FolderDataset(tmp_path)[0]
    assert_names_problem(err, tmp_path / "masks" / "s0.png", "mode RGB", "single-channel")


def test_bad_classes_txt(tmp_path: Path) -> None:
    make_folder(tmp_path, n=1, classes=["background"])
    with pytest.raises(DatasetError) as err:
        FolderDataset(tmp_path)
    assert_names_problem(err, tmp_path / "classes.txt", "at least one class")


def test_validate_collects_every_problem(tmp_path: Path) -> None:
    make_folder(tmp_path, n=5, classes=["background", "a", "b"])
    (tmp_path / "masks" / "s0.png").unlink()  # missing mask
    save(tmp_path / "masks" / "s1.png", labels(0, 1, h=H - 4))  # size mismatch
    (tmp_path / "images" / "s2.png").write_bytes(b"garbage")  # unreadable
    save(tmp_path / "masks" / "s3.png", np.full((H, W), 9, np.uint8))  # class id out of range
    (tmp_path / "images" / "notes.txt").write_text("hello")  # not an image
    with pytest.raises(DatasetError) as err:
        FolderDataset(tmp_path)
    assert "2 problems" in str(err.value)

    ds = FolderDataset(tmp_path, strict=False)
    assert len(ds) == 4
    problems = ds.validate()
    assert len(problems) == 5, problems
    expected = [("notes.txt", "unexpected file"), ("s0.png", "has no mask"), ("s1.png", "20x32")]
    expected += [("s2.png", "cannot read"), ("s3.png", "class id 9")]
    for (name, words), line in zip(
        sorted(expected), sorted(problems, key=lambda p: Path(p.split(":")[0]).name), strict=True
    ):
        assert name in line and words in line, line
    assert all("\n" not in line for line in problems)


# ---------------------------------------------------------------------------------------------- video folder


def make_video(folder: Path, frame_names: list[str], seed: int, size: tuple[int, int] = (H, W)) -> list[int]:
    """Frames whose image is filled with a distinct value each; returns the fill values in name order."""
    fills = []
    for i, name in enumerate(frame_names):
        fill = seed * 10 + i
        save(folder / "images" / f"{name}.png", np.full((*size, 3), fill, np.uint8))
        save(folder / "masks" / f"{name}.png", np.full(size, i % 3, np.uint8))
        save(folder / "instances" / f"{name}.png", np.full(size, 300 + i, np.uint16), mode="I;16")
        fills.append(fill)
    return fills


def test_video_folder_stacks_frames_in_natural_order(tmp_path: Path) -> None:
    fills = make_video(tmp_path / "clip_b", ["f10", "f9", "f1"], seed=1)  # written in that order
    make_video(tmp_path / "clip_a", ["0", "1"], seed=2)
    (tmp_path / "classes.txt").write_text("background\nfish\nweed\n")
    ds = VideoFolderDataset(tmp_path)
    assert isinstance(ds, SegmentationSource) and ds.classes == ["background", "fish", "weed"]
    assert len(ds) == 2 and ds[0].name == "clip_a"
    video = ds[1]
    check_sample(video, 2, "clip_b")
    assert video.is_video and video.image.shape == (3, H, W, 3) and video.mask.shape == (3, H, W)
    # natural order f1, f9, f10 = written indices 2, 1, 0
    np.testing.assert_array_equal(video.image[:, 0, 0, 0], [fills[2], fills[1], fills[0]])
    np.testing.assert_array_equal(video.mask[:, 0, 0], [2, 1, 0])
    assert video.instances is not None
    np.testing.assert_array_equal(video.instances[:, 0, 0], [302, 301, 300])
    assert ds.validate() == []


def test_video_with_mixed_frame_sizes_names_the_frame(tmp_path: Path) -> None:
    make_video(tmp_path / "clip", ["1", "2"], seed=1)
    make_video(tmp_path / "clip", ["3"], seed=3, size=(H, W + 8))
    ds = VideoFolderDataset(tmp_path)
    with pytest.raises(DatasetError) as err:
        ds[0]
    assert_names_problem(err, tmp_path / "clip" / "images" / "3.png", "24x40", "first frame", "share a size")


def test_video_classes_must_agree(tmp_path: Path) -> None:
    make_video(tmp_path / "v1", ["1"], seed=1)
    make_video(tmp_path / "v2", ["1"], seed=2)
    (tmp_path / "v1" / "classes.txt").write_text("background\nfish\nweed\n")
    (tmp_path / "v2" / "classes.txt").write_text("background\nweed\nfish\n")
    with pytest.raises(DatasetError) as err:
        VideoFolderDataset(tmp_path)
    assert_names_problem(err, tmp_path / "v2" / "classes.txt", "differs")


def test_video_folder_rejects_stray_folders_and_empty_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        VideoFolderDataset(tmp_path)
    assert_names_problem(err, tmp_path, "no video folders")
    make_video(tmp_path / "clip", ["1"], seed=1)
    (tmp_path / "previews").mkdir()
    with pytest.raises(DatasetError) as err:
        VideoFolderDataset(tmp_path)
    assert_names_problem(err, tmp_path / "previews", "not a video folder")


# --------------------------------------------------------------------------------------------- COCO panoptic


def encode_ids(ids: np.ndarray) -> np.ndarray:
    """Segment ids ``(H, W)`` -> panoptic RGB ``(H, W, 3)`` uint8."""
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)


COCO_CATEGORIES = [
    {"id": 1, "name": "person", "isthing": 1},
    {"id": 3, "name": "car", "isthing": 1},
    {"id": 187, "name": "sky", "isthing": 0},
]


def make_coco(root: Path, tag: str = "val2017") -> dict[str, np.ndarray]:
    """COCO layout with one image: sky (stuff), two cars, one person, a crowd of people, void."""
    ids = np.zeros((H, W), np.int64)
    ids[:8] = 5_000_000  # sky, an id that needs the blue channel
    ids[8:16, :10] = 300  # car A (green channel)
    ids[8:16, 10:20] = 70_000  # person
    ids[8:16, 20:] = 12  # car B
    ids[16:20] = 999  # crowd of persons
    # rows 20..23 stay void
    segments = [
        {"id": 5_000_000, "category_id": 187, "iscrowd": 0, "area": 1},
        {"id": 12, "category_id": 3, "iscrowd": 0},
        {"id": 70_000, "category_id": 1, "iscrowd": 0},
        {"id": 424242, "category_id": 1, "iscrowd": 0},  # listed but absent from the PNG
        {"id": 300, "category_id": 3, "iscrowd": 0},
        {"id": 999, "category_id": 1, "iscrowd": 1},
    ]
    image = rgb(7)
    save(root / tag / "000000000139.jpg", image)
    save(root / "annotations" / f"panoptic_{tag}" / "000000000139.png", encode_ids(ids))
    data = {
        "images": [{"id": 139, "file_name": "000000000139.jpg"}],
        "annotations": [{"image_id": 139, "file_name": "000000000139.png", "segments_info": segments}],
        "categories": COCO_CATEGORIES,
    }
    (root / "annotations" / f"panoptic_{tag}.json").write_text(json.dumps(data))
    decoded = np.asarray(Image.open(root / tag / "000000000139.jpg"))
    return {"ids": ids, "image": decoded}


def test_coco_panoptic_decodes_ids_and_maps_categories(tmp_path: Path) -> None:
    written = make_coco(tmp_path)
    ds = open_dataset(tmp_path, split="val")
    assert isinstance(ds, CocoPanopticDataset) and isinstance(ds, SegmentationSource)
    assert ds.classes == ["background", "person", "car", "sky"]
    assert ds.category_ids == [None, 1, 3, 187] and ds.thing_classes == [False, True, True, False]
    sample = ds[0]
    check_sample(sample, 3, "coco")
    np.testing.assert_array_equal(sample.image, written["image"])
    expected_mask = np.zeros((H, W), np.int32)
    expected_mask[:8], expected_mask[8:16, :10], expected_mask[8:16, 10:20] = 3, 2, 1
    expected_mask[8:16, 20:], expected_mask[16:20] = 2, 1
    np.testing.assert_array_equal(sample.mask, expected_mask)
    # things numbered in segments_info order among those present: car B, person, car A; crowd and sky 0
    expected_inst = np.zeros((H, W), np.int32)
    expected_inst[8:16, 20:], expected_inst[8:16, 10:20], expected_inst[8:16, :10] = 1, 2, 3
    np.testing.assert_array_equal(sample.instances, expected_inst)
    assert ds.validate() == []


def test_coco_crowd_as_void(tmp_path: Path) -> None:
    make_coco(tmp_path)
    ann = tmp_path / "annotations"
    ds = CocoPanopticDataset(
        ann / "panoptic_val2017.json", ann / "panoptic_val2017", tmp_path / "val2017", crowd_as_void=True
    )
    assert (ds[0].mask[16:20] == 0).all()


def test_coco_unknown_segment_id_names_the_png(tmp_path: Path) -> None:
    make_coco(tmp_path)
    png = tmp_path / "annotations" / "panoptic_val2017" / "000000000139.png"
    ids = np.zeros((H, W), np.int64)
    ids[0, 0] = 77
    save(png, encode_ids(ids))
    with pytest.raises(DatasetError) as err:
        open_dataset(tmp_path, format="coco-panoptic")[0]
    assert_names_problem(err, png, "[77]", "segments_info")


def test_coco_missing_png_and_bad_category(tmp_path: Path) -> None:
    make_coco(tmp_path)
    json_path = tmp_path / "annotations" / "panoptic_val2017.json"
    data = json.loads(json_path.read_text())
    data["annotations"][0]["segments_info"][0]["category_id"] = 99
    data["annotations"].append({"image_id": 139, "file_name": "missing.png", "segments_info": []})
    json_path.write_text(json.dumps(data))
    ds = open_dataset(json_path, strict=False)
    problems = ds.validate()
    assert len(problems) == 2 and len(ds) == 0
    assert "unknown category_id 99" in problems[0] and str(json_path) in problems[0]
    assert "missing.png: panoptic PNG not found" in problems[1]


# ------------------------------------------------------------------------------------------------ Cityscapes


def make_cityscapes(root: Path, split: str = "val") -> None:
    """One image in city 'ulm' with every interesting label and instance value."""
    label_ids = np.zeros((H, W), np.uint8)  # unlabeled -> 0
    label_ids[0:4] = 7  # road -> 1
    label_ids[4:8] = 23  # sky -> 11
    label_ids[8:12, :16] = 26  # car -> 14
    label_ids[8:12, 16:] = 24  # person -> 12
    label_ids[12:16, :16] = 29  # caravan -> ignored -> 0
    label_ids[12:16, 16:] = 33  # bicycle -> 19
    label_ids[16:20] = 24  # crowd of persons (instance value 24, < 1000)
    inst = label_ids.astype(np.uint16)
    inst[8:12, :8], inst[8:12, 8:16] = 26001, 26000
    inst[8:12, 16:] = 24005
    inst[12:16, :16] = 29000
    inst[12:16, 16:] = 33000
    base = "ulm_000000_000019"
    save(root / "leftImg8bit" / split / "ulm" / f"{base}_leftImg8bit.png", rgb(5))
    save(root / "gtFine" / split / "ulm" / f"{base}_gtFine_labelIds.png", label_ids)
    save(root / "gtFine" / split / "ulm" / f"{base}_gtFine_instanceIds.png", inst, mode="I;16")
    save(root / "gtFine" / split / "ulm" / f"{base}_gtFine_color.png", rgb(6))  # ignored


def test_cityscapes_maps_train_ids_and_instances(tmp_path: Path) -> None:
    make_cityscapes(tmp_path)
    ds = open_dataset(tmp_path)  # the only split, val
    assert isinstance(ds, CityscapesDataset) and ds.split == "val"
    assert len(CITYSCAPES_CLASSES) == 20 and ds.classes[1] == "road" and ds.classes[19] == "bicycle"
    sample = ds[0]
    check_sample(sample, 19, "cityscapes")
    assert sample.name == "ulm_000000_000019"
    np.testing.assert_array_equal(sample.image, rgb(5))
    expected = np.zeros((H, W), np.int32)
    expected[0:4], expected[4:8], expected[8:12, :16], expected[8:12, 16:] = 1, 11, 14, 12
    expected[12:16, 16:], expected[16:20] = 19, 12
    np.testing.assert_array_equal(sample.mask, expected)
    inst = np.zeros((H, W), np.int32)  # sorted values 24005, 26000, 26001, 33000 -> 1..4; caravan 0
    inst[8:12, 16:], inst[8:12, 8:16], inst[8:12, :8], inst[12:16, 16:] = 1, 2, 3, 4
    np.testing.assert_array_equal(sample.instances, inst)


def test_cityscapes_missing_labels_and_bad_label_id(tmp_path: Path) -> None:
    make_cityscapes(tmp_path)
    extra = tmp_path / "leftImg8bit" / "val" / "ulm" / "ulm_000001_000019_leftImg8bit.png"
    save(extra, rgb(1))
    with pytest.raises(DatasetError) as err:
        CityscapesDataset(tmp_path, "val")
    assert_names_problem(err, extra, "ulm_000001_000019_gtFine_labelIds.png")
    extra.unlink()
    labels_png = tmp_path / "gtFine" / "val" / "ulm" / "ulm_000000_000019_gtFine_labelIds.png"
    save(labels_png, np.full((H, W), 40, np.uint8))
    with pytest.raises(DatasetError) as err:
        CityscapesDataset(tmp_path, "val")[0]
    assert_names_problem(err, labels_png, "label id 40")


# -------------------------------------------------------------------------------------------- open_dataset


def test_open_dataset_detects_every_format(tmp_path: Path) -> None:
    make_folder(tmp_path / "folder" / "train", n=1)
    make_video(tmp_path / "video" / "clip", ["1"], seed=1)
    make_coco(tmp_path / "coco")
    make_cityscapes(tmp_path / "cs", split="train")
    make_cityscapes(tmp_path / "cs", split="val")
    assert detect_format(tmp_path / "folder", split="train") == "folder"
    assert isinstance(open_dataset(tmp_path / "folder", split="train"), FolderDataset)
    assert isinstance(open_dataset(tmp_path / "folder" / "train", format="folder"), FolderDataset)
    assert isinstance(open_dataset(tmp_path / "video"), VideoFolderDataset)
    assert isinstance(open_dataset(tmp_path / "coco"), CocoPanopticDataset)
    assert open_dataset(tmp_path / "cs", split="train").split == "train"
    with pytest.raises(DatasetError, match="pass split="):
        open_dataset(tmp_path / "cs")


def test_open_dataset_unknown_layout_lists_what_it_looked_for(tmp_path: Path) -> None:
    (tmp_path / "stuff.txt").write_text("x")
    with pytest.raises(DatasetError) as err:
        open_dataset(tmp_path)
    assert_names_problem(err, tmp_path, "cannot detect", "images/ and masks/", "leftImg8bit/", "panoptic_")
    with pytest.raises(ValueError, match="unknown dataset format"):
        open_dataset(tmp_path, format="voc")
