"""The embedded synthetic microscopy datasets: determinism, splits, labels, motion and the on-disk layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rleseg.data.sample import SegmentationSource, check_sample
from rleseg.data.synthetic import (
    CLASSES,
    DFC,
    IPSC,
    MotionParams,
    SyntheticCells,
    SyntheticCellVideos,
    gaussian_blur,
    write_synthetic,
)


@pytest.fixture(scope="module")
def train_images() -> list:
    return list(SyntheticCells("train"))


@pytest.fixture(scope="module")
def train_videos() -> SyntheticCellVideos:
    return SyntheticCellVideos("train")


@pytest.fixture(scope="module")
def train_clips(train_videos: SyntheticCellVideos) -> list:
    return list(train_videos)


def _ids(instances: np.ndarray) -> set[int]:
    return set(np.unique(instances).tolist()) - {0}


# ---------------------------------------------------------------------------------------------- basics


def test_sources_follow_the_protocol() -> None:
    for source in (SyntheticCells("val", num_images=1, size=32), SyntheticCellVideos("val", num_videos=1)):
        assert isinstance(source, SegmentationSource)
        assert list(source.classes) == ["background", "ipsc", "dfc"] == list(CLASSES)
    assert len(SyntheticCells("train")) == 48 and len(SyntheticCells("test")) == 12
    assert len(SyntheticCellVideos("train")) == 12 and len(SyntheticCellVideos("val")) == 4


def test_image_shapes_and_dtypes(train_images: list) -> None:
    sample = train_images[0]
    assert sample.image.shape == (320, 320, 3) and sample.image.dtype == np.uint8
    assert sample.mask.shape == (320, 320) and sample.mask.dtype == np.uint8
    assert sample.instances.shape == (320, 320) and sample.instances.dtype == np.int32
    assert not sample.is_video and sample.name == "image_000"
    check_sample(sample, num_classes=2, where="synthetic")
    rect = SyntheticCells(num_images=1, size=(48, 80))[0]
    assert rect.image.shape == (48, 80, 3) and rect.mask.shape == (48, 80)


def test_video_shapes_and_dtypes(train_clips: list) -> None:
    clip = train_clips[0]
    assert clip.image.shape == (8, 160, 160, 3) and clip.image.dtype == np.uint8
    assert clip.mask.shape == clip.instances.shape == (8, 160, 160)
    assert clip.is_video and clip.name == "video_000"
    check_sample(clip, num_classes=2, where="synthetic video")
    short = SyntheticCellVideos(num_videos=1, num_frames=3, size=64)[0]
    assert short.image.shape == (3, 64, 64, 3)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="split"):
        SyntheticCells("training")  # type: ignore[arg-type]
    ds = SyntheticCells(num_images=2, size=32)
    with pytest.raises(IndexError):
        ds[2]
    np.testing.assert_array_equal(ds[-1].image, ds[1].image)


# ---------------------------------------------------------------------------------------- determinism


def test_same_seed_same_sample_whatever_the_access_order() -> None:
    a = SyntheticCells("train", num_images=4, size=96, seed=3)
    b = SyntheticCells("train", num_images=9, size=96, seed=3)
    later_first = [b[2], b[1]]
    for got, want in zip(later_first, [a[2], a[1]], strict=True):
        np.testing.assert_array_equal(got.image, want.image)
        np.testing.assert_array_equal(got.mask, want.mask)
        np.testing.assert_array_equal(got.instances, want.instances)
    assert not np.array_equal(a[1].image, a[2].image)
    assert not np.array_equal(a[1].mask, SyntheticCells("train", num_images=4, size=96, seed=4)[1].mask)


def test_videos_are_deterministic() -> None:
    a = SyntheticCellVideos("val", num_videos=2, num_frames=4, size=64, seed=1)
    b = SyntheticCellVideos("val", num_videos=2, num_frames=4, size=64, seed=1)
    np.testing.assert_array_equal(a[1].image, b[1].image)
    np.testing.assert_array_equal(a[1].instances, b[1].instances)
    assert a.events(1) == b.events(1)
    assert not np.array_equal(a[0].instances, a[1].instances)


def test_splits_do_not_share_samples() -> None:
    seen: dict[bytes, str] = {}
    for split in ("train", "val", "test"):
        for sample in SyntheticCells(split, size=48):
            key = sample.mask.tobytes() + sample.image.tobytes()
            assert key not in seen, f"{split}/{sample.name} repeats {seen[key]}"
            seen[key] = f"{split}/{sample.name}"
    assert len(seen) == 72


# ------------------------------------------------------------------------------------------- labels


def test_every_instance_has_exactly_one_class(train_images: list) -> None:
    for sample in train_images[:12]:
        np.testing.assert_array_equal(sample.mask > 0, sample.instances > 0)
        ids = np.unique(sample.instances)
        assert ids.tolist() == list(range(len(ids))), "instance ids are 0..n without gaps"
        classes_per_id = {(i, c) for i, c in zip(sample.instances.ravel(), sample.mask.ravel(), strict=True)}
        assert len(classes_per_id) == len(ids), f"{sample.name}: an instance has several classes"


def test_both_classes_with_about_one_ipsc_per_two_dfc(train_images: list) -> None:
    counts = {IPSC: 0, DFC: 0}
    for sample in train_images:
        for cls in counts:
            counts[cls] += len(_ids(np.where(sample.mask == cls, sample.instances, 0)))
    fraction = counts[IPSC] / (counts[IPSC] + counts[DFC])
    assert counts[IPSC] > 50 and counts[DFC] > 100
    assert 0.2 < fraction < 0.45, counts


def test_instances_touch_or_overlap(train_images: list) -> None:
    touching = 0
    for sample in train_images:
        ids = sample.instances
        right = (ids[:, :-1] > 0) & (ids[:, 1:] > 0) & (ids[:, :-1] != ids[:, 1:])
        down = (ids[:-1] > 0) & (ids[1:] > 0) & (ids[:-1] != ids[1:])
        touching += bool(right.any() or down.any())
    assert touching >= len(train_images) // 2


def test_classes_differ_in_appearance(train_images: list) -> None:
    gray = {IPSC: [], DFC: []}
    for sample in train_images:
        luminance = sample.image.astype(np.float32).mean(axis=-1)
        for cls in gray:
            gray[cls].append(luminance[sample.mask == cls])
    ipsc, dfc = np.concatenate(gray[IPSC]), np.concatenate(gray[DFC])
    background = np.concatenate([s.image[s.mask == 0].mean(axis=-1) for s in train_images[:8]])
    assert ipsc.mean() > dfc.mean() + 40, (ipsc.mean(), dfc.mean())
    assert dfc.mean() > background.mean() + 20, (dfc.mean(), background.mean())


def test_dropped_instances_leave_no_tiny_fragments(train_images: list) -> None:
    for sample in train_images[:12]:
        sizes = np.bincount(sample.instances.ravel())[1:]
        assert sizes.min() >= 10, f"{sample.name}: an instance of {sizes.min()} pixels was kept"


# ------------------------------------------------------------------------------------------- videos


def _centroids(instances: np.ndarray) -> dict[int, np.ndarray]:
    ys, xs = np.nonzero(instances)
    ids = instances[ys, xs]
    out = {}
    for i in np.unique(ids):
        sel = ids == i
        out[int(i)] = np.array([ys[sel].mean(), xs[sel].mean()])
    return out


def _class_of(mask: np.ndarray, instances: np.ndarray) -> dict[int, int]:
    sel = instances > 0
    return dict(zip(instances[sel].tolist(), mask[sel].tolist(), strict=True))


def _shifts(videos) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Centroid shifts in pixels of every cell present in two consecutive frames of ``videos``."""
    shifts = []
    for video in videos:
        for t in range(video.instances.shape[0] - 1):
            now, nxt = _centroids(video.instances[t]), _centroids(video.instances[t + 1])
            shifts += [float(np.hypot(*(nxt[i] - now[i]))) for i in now.keys() & nxt.keys()]
    return np.array(shifts)


def test_video_ids_keep_their_class_and_move_smoothly(train_clips: list) -> None:
    for clip in train_clips:
        classes: dict[int, int] = {}
        for t in range(clip.mask.shape[0]):
            for i, c in _class_of(clip.mask[t], clip.instances[t]).items():
                assert classes.setdefault(i, c) == c, f"{clip.name}: id {i} changed class at frame {t}"
    shifts_arr = _shifts(train_clips)
    assert len(shifts_arr) > 200
    assert shifts_arr.max() < 160 / 4, shifts_arr.max()
    assert 0.5 < np.median(shifts_arr) < 6.0, np.median(shifts_arr)


def test_videos_have_divisions_entries_and_exits(train_videos: SyntheticCellVideos, train_clips: list) -> None:
    kinds = {e.kind for i in range(len(train_videos)) for e in train_videos.events(i)}
    assert kinds == {"enter", "leave", "divide"}
    appeared = vanished = 0
    for clip in train_clips:
        frames = [_ids(f) for f in clip.instances]
        appeared += sum(len(frames[t + 1] - frames[t]) for t in range(len(frames) - 1))
        vanished += sum(len(frames[t] - frames[t + 1]) for t in range(len(frames) - 1))
    assert appeared > 0 and vanished > 0


def test_divisions_end_the_parent_and_start_two_daughters_of_its_class(
    train_videos: SyntheticCellVideos, train_clips: list
) -> None:
    checked = 0
    for index, clip in enumerate(train_clips):
        frames = [_ids(f) for f in clip.instances]
        for event in train_videos.events(index):
            if event.kind != "divide":
                continue
            parent, *daughters = event.ids
            assert all(parent not in ids for ids in frames[event.frame :])
            assert all(d not in ids for d in daughters for ids in frames[: event.frame])
            before = _class_of(clip.mask[event.frame - 1], clip.instances[event.frame - 1])
            after = _class_of(clip.mask[event.frame], clip.instances[event.frame])
            if parent in before:
                for d in daughters:
                    if d in after:
                        assert after[d] == before[parent]
                        checked += 1
    assert checked > 0


# -------------------------------------------------------------------------------------------- helpers


def test_gaussian_blur_keeps_constants_and_mass() -> None:
    flat = np.full((20, 30), 0.7, dtype=np.float32)
    np.testing.assert_allclose(gaussian_blur(flat, 1.5), flat, rtol=1e-5)
    spike = np.zeros((41, 41), dtype=np.float32)
    spike[20, 20] = 1.0
    blurred = gaussian_blur(spike, 2.0)
    assert abs(blurred.sum() - 1.0) < 1e-4 and blurred[20, 20] == blurred.max()
    np.testing.assert_allclose(blurred, blurred.T, atol=1e-7)


# ------------------------------------------------------------------------------------------- writing


def test_write_cells_layout_round_trips(tmp_path: Path) -> None:
    out = write_synthetic("cells", tmp_path / "ds", num_samples=2, size=64, progress=False)
    source = SyntheticCells("val", num_images=2, size=64)
    for split in ("train", "val", "test"):
        folder = out / split
        assert (folder / "classes.txt").read_text().splitlines() == list(CLASSES)
        assert sorted(p.name for p in (folder / "images").iterdir()) == ["image_000.png", "image_001.png"]
    sample = source[1]
    image = Image.open(out / "val/images/image_001.png")
    mask = Image.open(out / "val/masks/image_001.png")
    instances = Image.open(out / "val/instances/image_001.png")
    assert (image.mode, mask.mode, instances.mode) == ("RGB", "L", "I;16")
    np.testing.assert_array_equal(np.asarray(image), sample.image)
    np.testing.assert_array_equal(np.asarray(mask), sample.mask)
    np.testing.assert_array_equal(np.asarray(instances).astype(np.int32), sample.instances)
    assert not list(out.rglob(".*")), "temporary files were left behind"


def test_write_videos_layout(tmp_path: Path) -> None:
    out = write_synthetic(
        "cells-video", tmp_path / "vid", splits=["test"], num_samples=1, num_frames=3, size=48, progress=False
    )
    video = out / "test" / "video_000"
    assert (video / "classes.txt").read_text().splitlines() == list(CLASSES)
    for sub in ("images", "masks", "instances"):
        assert sorted(p.name for p in (video / sub).iterdir()) == ["0000.png", "0001.png", "0002.png"]
    clip = SyntheticCellVideos("test", num_videos=1, num_frames=3, size=48)[0]
    np.testing.assert_array_equal(np.asarray(Image.open(video / "instances/0002.png")), clip.instances[2])


def test_write_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "ds"
    write_synthetic("cells", target, splits=["val"], num_samples=1, size=32, progress=False)
    (target / "val" / "images" / "stale.png").write_bytes(b"")
    with pytest.raises(ValueError, match=str(target)):
        write_synthetic("cells", target, splits=["val"], num_samples=1, size=32, progress=False)
    write_synthetic("cells", target, splits=["val"], num_samples=1, size=32, overwrite=True, progress=False)
    assert not (target / "val" / "images" / "stale.png").exists()
    assert (target / "val" / "images" / "image_000.png").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        write_synthetic("cells", tmp_path / "file", num_samples=1, size=32, progress=False)


def test_slowed_motion_moves_cells_less_and_is_set_from_the_config() -> None:
    from rleseg.config import load_config
    from rleseg.training.build import build_sources

    overrides = ["data.source=synthetic-cells-video", "data.synthetic_counts=[3,1,1]", "data.synthetic_size=160"]
    # a video tokenizer, so the sources stay videos (not their frames)
    overrides += ["data.synthetic_motion=0.2", "tokenizer.name=ltac", "tokenizer.num_frames=2"]
    cfg = load_config(None, overrides)
    slow = build_sources(cfg)["train"]
    assert isinstance(slow, SyntheticCellVideos) and slow.motion == MotionParams().slowed(0.2)
    fast = SyntheticCellVideos("train", num_videos=3, size=160)
    assert np.median(_shifts(slow)) < 0.5 * np.median(_shifts(fast))
    with pytest.raises(ValueError, match=r"data.synthetic_motion, --motion\): expected > 0, got 0.0"):
        MotionParams().slowed(0.0)


def test_defocus_dims_some_cells_and_keeps_labels_and_the_rest() -> None:
    from rleseg.config import load_config
    from rleseg.training.build import build_sources

    sharp = SyntheticCellVideos("train", 1, 4, 96, 0)[0]
    soft = SyntheticCellVideos("train", 1, 4, 96, 0, defocus=0.5)[0]
    assert np.array_equal(sharp.instances, soft.instances) and np.array_equal(sharp.mask, soft.mask)
    ratios = []  # each cell's mean excess over the background, defocus 0.5 against 0, frame by frame
    for t in range(4):
        a, b, ids = sharp.image[t].mean(-1), soft.image[t].mean(-1), sharp.instances[t]
        background = np.median(a[ids == 0])
        for i in np.unique(ids)[1:]:
            ratios.append((b[ids == i].mean() - background) / (a[ids == i].mean() - background))
    ratios_arr = np.array(ratios)
    dimmed = ratios_arr < 0.55
    assert np.all(dimmed | (ratios_arr > 0.75)), np.round(np.sort(ratios_arr), 2)  # 20-45% of the contrast, or all
    assert 0.3 < dimmed.mean() < 0.7 and len(ratios_arr) > 40
    assert np.array_equal(SyntheticCellVideos("train", 1, 4, 96, 0, defocus=0.0)[0].image, sharp.image)
    with pytest.raises(ValueError, match=r"data.synthetic_defocus, --defocus\): expected 0 <= p < 1, got 1.0"):
        SyntheticCellVideos("train", 1, 4, 96, 0, defocus=1.0)
    overrides = ["data.source=synthetic-cells-video", "data.synthetic_counts=[1,1,1]", "data.synthetic_size=64"]
    cfg = load_config(None, [*overrides, "data.synthetic_defocus=0.3", "tokenizer.name=ltac", "tokenizer.num_frames=2"])
    source = build_sources(cfg)["val"]
    assert isinstance(source, SyntheticCellVideos) and source.defocus == 0.3
