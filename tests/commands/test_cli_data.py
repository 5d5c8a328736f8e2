"""``rleseg data synth`` writes the layout and refuses to overwrite; ``rleseg data check`` summarises a dataset
and exits 1 naming every broken file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from rleseg.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "cells"
    res = runner.invoke(app, ["data", "synth", "--out", str(out), "--size", "64", "--counts", "3,1,1"], env=WIDE)
    assert res.exit_code == 0, res.output
    return out


def test_synth_writes_the_folder_layout(synth_dir: Path) -> None:
    for split, n in (("train", 3), ("val", 1), ("test", 1)):
        assert (synth_dir / split / "classes.txt").read_text().split() == ["background", "ipsc", "dfc"]
        for sub in ("images", "masks", "instances"):
            assert len(list((synth_dir / split / sub).glob("*.png"))) == n
    image = Image.open(synth_dir / "train" / "images" / "image_000.png")
    assert image.size == (64, 64) and image.mode == "RGB"


def test_synth_refuses_a_non_empty_folder_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "d"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    args = ["data", "synth", "--out", str(out), "--size", "48", "--counts", "1,1,1"]
    res = runner.invoke(app, args, env=WIDE)
    assert res.exit_code == 1
    assert str(out) in res.output and "--overwrite" in res.output
    assert not (out / "train").exists()
    res = runner.invoke(app, [*args, "--overwrite"], env=WIDE)
    assert res.exit_code == 0, res.output
    assert (out / "train" / "masks" / "image_000.png").is_file() and (out / "keep.txt").is_file()


def test_synth_video_and_bad_counts(tmp_path: Path) -> None:
    out = tmp_path / "v"
    args = ["data", "synth", "--kind", "cells-video", "--out", str(out), "--size", "48", "--counts", "1,1,1"]
    res = runner.invoke(app, [*args, "--frames", "2"], env=WIDE)
    assert res.exit_code == 0, res.output
    assert len(list((out / "train" / "video_000" / "masks").glob("*.png"))) == 2
    res = runner.invoke(app, ["data", "synth", "--out", str(tmp_path / "x"), "--counts", "1,2"], env=WIDE)
    assert res.exit_code == 1 and "train,val,test" in res.output


def test_check_clean_dataset_exits_zero_with_class_shares(synth_dir: Path) -> None:
    res = runner.invoke(app, ["data", "check", str(synth_dir), "-P", "64", "-S", "16"], env=WIDE)
    assert res.exit_code == 0, res.output
    out = res.output
    assert "folder format, 3 images" in out and "64x64" in out
    masks = [np.array(Image.open(p)) for p in sorted((synth_dir / "train" / "masks").glob("*.png"))]
    pixels = np.bincount(np.concatenate([m.ravel() for m in masks]), minlength=3)
    for k, name in enumerate(("background", "ipsc", "dfc")):
        share = f"{100 * pixels[k] / pixels.sum():.2f}%"
        assert any(name in line and share in line for line in out.splitlines()), (name, share, out)
    assert "sequence lengths: lac" in out and "no problems found" in out
    # the split folder itself is a dataset too
    res = runner.invoke(app, ["data", "check", str(synth_dir / "val"), "-P", "64", "-S", "16"], env=WIDE)
    assert res.exit_code == 0 and "1 images" in res.output


def test_check_broken_copy_exits_one_naming_the_files(synth_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(synth_dir, broken)
    masks = broken / "train" / "masks"
    (masks / "image_001.png").unlink()
    bad = np.array(Image.open(masks / "image_002.png"))
    bad[0, 0] = 9
    Image.fromarray(bad).save(masks / "image_002.png")
    res = runner.invoke(app, ["data", "check", str(broken), "-P", "64", "-S", "16"], env=WIDE)
    assert res.exit_code == 1, res.output
    assert "2 problem(s)" in res.output
    assert f"{broken / 'train' / 'images' / 'image_001.png'}: has no mask" in res.output
    assert f"{masks / 'image_002.png'}: holds class id 9" in res.output
    assert "1 readable" in res.output


def test_check_missing_folder_is_an_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["data", "check", str(tmp_path / "nope")], env=WIDE)
    assert res.exit_code == 1 and "no such folder" in res.output


def test_synth_video_motion_factor(tmp_path: Path) -> None:
    from rleseg.data.synthetic import MotionParams, SyntheticCellVideos

    out = tmp_path / "slow"
    args = ["data", "synth", "--kind", "cells-video", "--out", str(out), "--size", "48", "--counts", "1,1,1"]
    res = runner.invoke(app, [*args, "--frames", "3", "--motion", "0.2"], env=WIDE)
    assert res.exit_code == 0, res.output
    expected = SyntheticCellVideos("train", 1, 3, 48, 0, motion=MotionParams().slowed(0.2))[0].instances
    written = [np.array(Image.open(p)) for p in sorted((out / "train" / "video_000" / "instances").glob("*.png"))]
    assert np.array_equal(np.stack(written), expected)
    default = SyntheticCellVideos("train", 1, 3, 48, 0)[0].instances
    assert not np.array_equal(default, expected)
    bad = ["data", "synth", "--kind", "cells-video", "--out", str(tmp_path / "bad"), "--motion", "0"]
    res = runner.invoke(app, bad, env=WIDE)
    assert res.exit_code == 1 and "--motion" in res.output and "got 0.0" in res.output
    assert not (tmp_path / "bad").exists()


def test_synth_video_defocus(tmp_path: Path) -> None:
    from rleseg.data.synthetic import SyntheticCellVideos

    out = tmp_path / "soft"
    args = ["data", "synth", "--kind", "cells-video", "--out", str(out), "--size", "48", "--counts", "1,1,1"]
    res = runner.invoke(app, [*args, "--frames", "3", "--defocus", "0.5"], env=WIDE)
    assert res.exit_code == 0, res.output
    expected = SyntheticCellVideos("train", 1, 3, 48, 0, defocus=0.5)[0].image
    written = [np.array(Image.open(p)) for p in sorted((out / "train" / "video_000" / "images").glob("*.png"))]
    assert np.array_equal(np.stack(written), expected)
    assert not np.array_equal(SyntheticCellVideos("train", 1, 3, 48, 0)[0].image, expected)
    bad = ["data", "synth", "--kind", "cells-video", "--out", str(tmp_path / "bad"), "--defocus", "1"]
    res = runner.invoke(app, bad, env=WIDE)
    assert res.exit_code == 1 and "--defocus" in res.output and "got 1.0" in res.output
    assert not (tmp_path / "bad").exists()
    images = ["data", "synth", "--kind", "cells", "--out", str(tmp_path / "img"), "--defocus", "0.3"]
    res = runner.invoke(app, images, env=WIDE)
    assert res.exit_code == 1 and "--defocus 0.3 set how video cells move and blur" in res.output
