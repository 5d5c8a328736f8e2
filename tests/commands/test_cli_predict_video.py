"""``rleseg predict`` on videos (folders of frames, mp4 and GIF files) and big images, with tiny untrained
image (``lac``) and video (``tac``, N = 2) checkpoints; and the rules that sort inputs into images and videos."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import av
import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

from rleseg.cli import app
from rleseg.commands.common import CommandError
from rleseg.commands.predict import _FrameProgress
from rleseg.commands.predict_inputs import collect, plan, work_units
from rleseg.config import Config, ModelConfig, TokenizerConfig
from rleseg.data.formats.video_file import read_video
from rleseg.inference.predictor import Predictor
from rleseg.segmenters.pix2seq import Pix2SeqSegmenter
from rleseg.segmenters.spec import WindowPrediction
from rleseg.tokenizers import create_tokenizer
from rleseg.tokenizers.resolution import subsample

runner = CliRunner()
WIDE = {"COLUMNS": "250"}
# stride-8 features of a 3-block resnet: 8 x 8 encoder tokens per 64-pixel window, cheap on a CPU
TINY = ModelConfig(backbone="resnet10t", feature_level=2, dim=32, heads=2, encoder_layers=1, decoder_layers=1)


def save_checkpoint(path: Path, scheme: str, **tok_kw: int) -> Path:
    """An untrained checkpoint in the format ``rleseg train`` writes (Lightning's: weights + hyper-parameters)."""
    torch.manual_seed(0)
    tok = create_tokenizer(scheme, mask_size=8, num_classes=2, max_len=16, **tok_kw)
    cfg = Config(tokenizer=TokenizerConfig(name=scheme, mask_size=8, max_len=16, **tok_kw), model=TINY)
    cfg.data.patch_size = 64
    task = Pix2SeqSegmenter.from_tokenizer(cfg, tok, ["background", "ipsc", "dfc"])
    state = {"state_dict": task.state_dict(), "hyper_parameters": dict(task.hparams)}
    torch.save({**state, "pytorch-lightning_version": L.__version__}, path)
    return path


@pytest.fixture(scope="module")
def image_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "image.ckpt", "lac")


@pytest.fixture(scope="module")
def video_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "video.ckpt", "tac", num_frames=2)


@pytest.fixture
def exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows 'predicted' exactly from their red channel (label * 100), so outputs are known in advance."""

    def from_red(self: Predictor, images: torch.Tensor, previous: WindowPrediction | None = None) -> WindowPrediction:
        red = images[..., 0, :, :].numpy().astype(np.int64) // 100  # (B, [N,] P, P)
        lengths = torch.ones(len(images), dtype=torch.int64)
        return WindowPrediction(torch.from_numpy(subsample(red, 64 // 8)), None, {"lengths": lengths})

    monkeypatch.setattr(Predictor, "predict_windows", from_red)


def painted(t: int, h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels ``(T, H, W)`` constant on 8 x 8 blocks (what S = P / 8 holds; H, W multiples of 8) and frames
    ``(T, H, W, 3)`` whose red channel shows them (label * 100) over green and blue noise."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.repeat(rng.integers(0, 3, (t, h // 8, w // 8)), 8, -2), 8, -1)
    frames = rng.integers(0, 255, (t, h, w, 3), dtype=np.uint8)
    frames[..., 0] = labels * 100
    return labels, frames


def frames_of(t: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """``(T, H, W, 3)`` uint8: a bright square moving right over noise."""
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 60, (t, h, w, 3), dtype=np.uint8)
    for i in range(t):
        video[i, h // 4 : h // 2, 4 * i : 4 * i + w // 3] = 230
    return video


def write_frames(folder: Path, video: np.ndarray, names: list[str] | None = None) -> list[Path]:
    folder.mkdir(parents=True)
    names = names or [f"frame_{i}.png" for i in range(len(video))]
    for name, frame in zip(names, video, strict=True):
        Image.fromarray(frame).save(folder / name)
    return [folder / n for n in names]


def write_mp4(path: Path, video: np.ndarray, fps: int = 5) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.height, stream.width = video.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in video:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_gif(path: Path, video: np.ndarray) -> Path:
    images = [Image.fromarray(f) for f in video]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)
    return path


def read_png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def predict(*args: str | Path) -> tuple[int, str]:
    res = runner.invoke(app, ["predict", *map(str, args)], env=WIDE)
    return res.exit_code, res.output


# ----- video models ------------------------------------------------------------------------------------
def test_video_model_predicts_a_folder_of_frames(video_ckpt: Path, tmp_path: Path, exact: None) -> None:
    labels, video = painted(5, 40, 88, seed=0)  # 88 = 64 + 24: windows overlap at the right edge
    names = [f"frame_{i}.png" for i in (1, 2, 9, 10, 11)]
    write_frames(tmp_path / "clip", video, names)
    out = tmp_path / "pred"
    code, output = predict(video_ckpt, tmp_path / "clip", "--out", out, "--frame-stride", 1)
    assert code == 0, output
    assert "wrote 1 video (5 video frames)" in output
    assert np.array_equal(np.stack([read_png(out / "masks" / "clip" / n) for n in names]), labels)
    assert Image.open(out / "overlays" / "clip" / "frame_10.png").size == (88, 40)
    with Image.open(out / "overlays" / "clip.gif") as gif:
        assert gif.n_frames == 5 and gif.size == (88, 40)
    assert not (out / "instances").exists() and not list(out.rglob(".*.tmp*"))


def test_video_model_predicts_video_files_and_folders_of_videos(video_ckpt: Path, tmp_path: Path, exact: None) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    mp4 = write_mp4(videos / "walk.mp4", painted(4, 32, 48, seed=1)[1])  # lossy: compared with its decoded frames
    gif_labels, gif_frames = painted(3, 32, 40, seed=2)
    gif_frames[..., 1:] = 0  # few colours: the GIF palette keeps them exactly
    write_gif(videos / "cells.gif", gif_frames)
    write_frames(videos / "dish" / "images", frames_of(3, 24, 24, seed=3))  # the layout data synth writes
    out = tmp_path / "pred"
    code, output = predict(video_ckpt, videos, "--out", out)
    assert code == 0, output
    assert sorted(p.name for p in (out / "masks" / "walk").iterdir()) == [f"{i:06d}.png" for i in range(4)]
    assert sorted(p.name for p in (out / "masks" / "cells").iterdir()) == ["000000.png", "000001.png", "000002.png"]
    assert sorted(p.name for p in (out / "masks" / "dish").iterdir()) == [f"frame_{i}.png" for i in range(3)]
    assert read_png(out / "masks" / "walk" / "000003.png").shape == (32, 48)
    cells = np.stack([read_png(out / "masks" / "cells" / f"00000{i}.png") for i in range(3)])
    assert np.array_equal(cells, gif_labels)
    expected = Predictor.from_checkpoint(video_ckpt).predict_video(read_video(mp4)).mask  # decoded as the CLI does
    assert expected[1].any(), "the oracle sees the painted labels"
    assert np.array_equal(read_png(out / "masks" / "walk" / "000001.png"), expected[1])
    with Image.open(out / "overlays" / "walk.gif") as gif:
        assert gif.n_frames == 4 and gif.info["duration"] == 200, "the mp4's 5 frames per second"


def test_video_model_refuses_single_images_and_bad_strides(video_ckpt: Path, tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    Image.fromarray(frames_of(1, 20, 20)[0]).save(image)
    code, output = predict(video_ckpt, image, "--out", tmp_path / "o")
    assert code == 1 and f"{image}: a single image" in output and "video model (clips of N=2 frames)" in output
    code, output = predict(video_ckpt, tmp_path, "--out", tmp_path / "o", "--frame-stride", 3)
    assert code == 1 and "--frame-stride 3: expected 1..2" in output
    assert not (tmp_path / "o").exists()


def test_video_model_names_a_frame_of_another_size(video_ckpt: Path, tmp_path: Path) -> None:
    frames = write_frames(tmp_path / "clip", frames_of(3, 20, 20))
    Image.fromarray(frames_of(1, 20, 24)[0]).save(frames[2])
    code, output = predict(video_ckpt, tmp_path / "clip", "--out", tmp_path / "o")
    assert code == 1 and f"{frames[2]}: frame is 20x24 (HxW) but the first frame is 20x20" in output


# ----- image models on videos, big images ----------------------------------------------------------------
def test_image_model_predicts_every_frame_of_a_video_on_its_own(image_ckpt: Path, tmp_path: Path, exact: None) -> None:
    labels, video = painted(3, 24, 40, seed=4)
    video[..., 1:] = 0
    gif = write_gif(tmp_path / "swim.gif", video)
    write_frames(tmp_path / "clip", video)
    out = tmp_path / "pred"
    code, output = predict(image_ckpt, gif, tmp_path / "clip", "--out", out, "--frame-stride", 2)
    assert code == 0, output
    assert "--frame-stride is ignored" in output and "3 images and 1 video (3 video frames)" in output
    swim = np.stack([read_png(out / "masks" / "swim" / f"{i:06d}.png") for i in range(3)])
    assert np.array_equal(swim, labels)
    assert np.array_equal(np.stack([read_png(out / "masks" / f"frame_{i}.png") for i in range(3)]), labels)
    assert not (out / "masks" / "clip").exists(), "an image model reads a folder of images as images"
    code, output = predict(image_ckpt, tmp_path / "clip", "--out", out, "--video")
    assert code == 0, output
    assert (out / "masks" / "clip" / "frame_2.png").is_file() and (out / "overlays" / "clip.gif").is_file()


def test_big_image_is_predicted_whole_at_full_size(image_ckpt: Path, tmp_path: Path) -> None:
    image = tmp_path / "scan.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 255, (700, 1000, 3), dtype=np.uint8)).save(image)
    out = tmp_path / "pred"
    code, output = predict(image_ckpt, image, "--out", out, "--batch-size", 64, "--cleanup", 2)
    assert code == 0, output
    mask = read_png(out / "masks" / "scan.png")
    assert mask.shape == (700, 1000) and int(mask.max()) <= 2
    assert Image.open(out / "overlays" / "scan.png").size == (1000, 700)


# ----- outputs and errors ---------------------------------------------------------------------------------
def test_existing_outputs_are_not_overwritten(video_ckpt: Path, tmp_path: Path) -> None:
    mp4 = write_mp4(tmp_path / "walk.mp4", frames_of(3, 24, 32))
    out = tmp_path / "pred"
    code, output = predict(video_ckpt, mp4, "--out", out)  # the real (untrained) video model
    assert code == 0, output
    first = out / "masks" / "walk" / "000000.png"
    assert read_png(first).shape == (24, 32) and (out / "masks" / "walk" / "000002.png").is_file()
    first.write_bytes(b"the user's own file")
    code, output = predict(video_ckpt, mp4, "--out", out)
    assert code == 1 and f"{out / 'masks' / 'walk'} already exists; pass --overwrite" in output
    assert first.read_bytes() == b"the user's own file"
    assert predict(video_ckpt, mp4, "--out", out, "--overwrite")[0] == 0
    assert read_png(first).shape == (24, 32)


def test_overwrite_replaces_a_video_whole_once_it_was_read(image_ckpt: Path, tmp_path: Path, exact: None) -> None:
    swim = write_gif(tmp_path / "swim.gif", frames_of(5, 16, 16))
    out = tmp_path / "pred"
    assert predict(image_ckpt, swim, "--out", out)[0] == 0
    frames5 = [f"{i:06d}.png" for i in range(5)]
    assert sorted(p.name for p in (out / "masks" / "swim").iterdir()) == frames5
    keep = [out / "masks" / "swim" / "notes.txt", out / "overlays" / "other.png", out / "masks" / "swimmer" / "x.png"]
    keep.append(out / "masks" / "swim" / "sub" / "000004.png")  # not a file rleseg writes: kept
    for path in keep:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"the user's own file")
    (out / "instances" / "swim").mkdir(parents=True)
    (out / "instances" / "swim" / "000004.png").write_bytes(b"an earlier iw run's")  # stale, removed as well

    write_gif(swim, frames_of(3, 16, 16, seed=1))  # a shorter video of the same name
    code, output = predict(image_ckpt, swim, "--out", out, "--overwrite")
    assert code == 0, output
    frames3 = [f"{i:06d}.png" for i in range(3)]
    for kind in ("masks", "overlays"):
        assert sorted(p.name for p in (out / kind / "swim").glob("*.png")) == frames3, kind
    assert not list((out / "instances" / "swim").iterdir())
    assert all(path.read_bytes() == b"the user's own file" for path in keep)
    with Image.open(out / "overlays" / "swim.gif") as gif:
        assert gif.n_frames == 3

    swim.write_bytes(b"GIF89a truncated")  # unreadable: its earlier outputs stay as they are
    code, output = predict(image_ckpt, swim, "--out", out, "--overwrite")
    assert code == 1 and f"{swim}: cannot read the file" in output
    for kind in ("masks", "overlays"):
        assert sorted(p.name for p in (out / kind / "swim").glob("*.png")) == frames3, kind
    with Image.open(out / "overlays" / "swim.gif") as gif:
        assert gif.n_frames == 3


def test_progress_counts_images_and_video_frames(tmp_path: Path) -> None:
    write_frames(tmp_path / "shots", frames_of(2, 8, 8))
    write_frames(tmp_path / "videos" / "clip", frames_of(5, 8, 8))
    write_gif(tmp_path / "videos" / "swim.gif", frames_of(3, 8, 8))
    write_mp4(tmp_path / "videos" / "walk.mp4", frames_of(4, 16, 16))
    (tmp_path / "videos" / "broken.mp4").write_bytes(b"not a video")  # header unreadable: counts 1
    items = collect([tmp_path / "shots"], folders_are_videos=False) + collect([tmp_path / "videos"], False)
    images, videos = plan(items, tmp_path / "out", instances=False, overwrite=False)
    assert [v.name for v in videos] == ["clip", "broken", "swim", "walk"]
    assert work_units(images, videos) == [1, 1, 5, 1, 3, 4] and sum(work_units(images, videos)) == 2 + 13

    bar = _FrameProgress("predicting", 2 + 3, Console(file=StringIO()))
    task = bar.bar.tasks[0]
    with bar:
        bar.start_job(2)  # a video of 4 frames whose header said 2: the total grows as it goes
        for _ in range(4):
            bar.tick()
        bar.end_job(failed=False)
        assert (task.completed, task.total) == (4, 7)
        bar.start_job(2)  # fewer frames than expected: the total shrinks
        bar.tick()
        bar.end_job(failed=False)
        assert (task.completed, task.total) == (5, 6)
        bar.start_job(1)  # an unreadable input: counted as done
        bar.end_job(failed=True)
    assert task.completed == task.total == 6


def test_unreadable_video_is_reported_and_the_others_are_predicted(image_ckpt: Path, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "broken.mp4").write_bytes(b"\x00\x01 not a video")
    (folder / "truncated.gif").write_bytes(b"GIF89a truncated")
    write_gif(folder / "fine.gif", frames_of(2, 20, 20))
    out = tmp_path / "pred"
    code, output = predict(image_ckpt, folder, "--out", out)
    assert code == 1, output
    assert "2 of 3 input(s) could not be read" in output
    assert f"{folder / 'broken.mp4'}: cannot read the file" in output
    assert f"{folder / 'truncated.gif'}: cannot read the file" in output
    assert (out / "masks" / "fine" / "000001.png").is_file()


# ----- which inputs are images and which are videos (no model) -----------------------------------------
def test_input_rules(tmp_path: Path) -> None:
    write_frames(tmp_path / "shots", frames_of(3, 8, 8), ["f_10.png", "f_9.png", "f_1.png"])
    write_frames(tmp_path / "many" / "a", frames_of(2, 8, 8))
    write_frames(tmp_path / "many" / "b" / "images", frames_of(3, 8, 8))
    (tmp_path / "many" / "notes").mkdir()  # no images: not a video
    write_gif(tmp_path / "many" / "c.gif", frames_of(2, 8, 8))
    as_images = collect([tmp_path / "shots"], folders_are_videos=False)
    natural = [tmp_path / "shots" / f"f_{i}.png" for i in (1, 9, 10)]  # not text order (f_1, f_10, f_9)
    assert as_images == natural
    (video,) = collect([tmp_path / "shots"], folders_are_videos=True)
    assert not isinstance(video, Path) and video.name == "shots" and list(video.frames or []) == natural
    names = [v.name for v in collect([tmp_path / "many"], folders_are_videos=False) if not isinstance(v, Path)]
    assert names == ["a", "b", "c"]
    with pytest.raises(CommandError, match="notes: folder holds no images"):
        collect([tmp_path / "many" / "notes"], folders_are_videos=False)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(CommandError, match="x.txt: not an image or video file"):
        collect([tmp_path / "x.txt"], folders_are_videos=False)
    twice = collect([tmp_path / "shots", tmp_path / "shots"], folders_are_videos=True)
    with pytest.raises(CommandError, match="would both be written as"):
        plan(twice, tmp_path / "out", instances=False, overwrite=False)
