"""``rleseg viz tokenize`` (synthetic example, mask PNGs, frame folders, clear errors) and ``rleseg viz curves``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from rleseg.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "250"}
TINY_RUN = Path(__file__).parents[1] / "report" / "data" / "tiny-run"


def _viz(*args: str) -> tuple[int, str]:
    res = runner.invoke(app, ["viz", *args], env=WIDE)
    return res.exit_code, res.output


def _write(path: Path, labels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(labels.astype(np.uint8)).save(path)
    return path


def _labels(size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """A 3-class mask and its instances, in 4x4 blocks so subsampling by 4 keeps every shape."""
    mask = np.zeros((size, size), np.uint8)
    mask[4:12, 4:20] = 1
    mask[16:28, 8:16] = 2
    mask[20:24, 24:32] = 3
    inst = np.zeros_like(mask)
    inst[4:12, 4:20] = 5
    inst[16:28, 8:16] = 6
    inst[20:24, 24:32] = 7
    return mask, inst


def test_synthetic_example_for_an_image_and_a_video_scheme(tmp_path: Path) -> None:
    code, out = _viz("tokenize", "--scheme", "lac", "-S", "8", "--out", str(tmp_path))
    assert code == 0, out
    assert "lac:" in out and "tokenize-lac.gif" in out
    with Image.open(tmp_path / "tokenize-lac.gif") as gif:
        assert gif.n_frames > 2
    assert (tmp_path / "tokenize-lac.png").is_file()
    code, out = _viz("tokenize", "--synthetic", "--scheme", "tac", "-S", "8", "-N", "3", "-o", str(tmp_path))
    assert code == 0, out
    with Image.open(tmp_path / "tokenize-tac.gif") as gif:
        assert gif.n_frames > 2


def test_mask_png_is_subsampled_and_animated(tmp_path: Path) -> None:
    mask, inst = _labels()
    mask_png = _write(tmp_path / "m.png", mask)
    inst_png = _write(tmp_path / "i.png", inst)
    classes = tmp_path / "classes.txt"
    classes.write_text("background\nred\ngreen\nblue\n")
    out = tmp_path / "out"
    code, text = _viz(
        "tokenize", str(mask_png), "--scheme", "iw", "-S", "8", "--instances", str(inst_png), "--classes",
        str(classes), "--order", "col", "--max-frames", "6", "--fps", "5", "-o", str(out),
    )  # fmt: skip
    assert code == 0, text
    # subsampled to 8x8 and read column by column: 4 + 2 + 2 runs of 2 tokens, 3 class tokens, EOS
    assert "iw: 20 tokens, 8 runs" in text
    with Image.open(out / "tokenize-iw.gif") as gif:
        assert 1 < gif.n_frames <= 6
    code, text = _viz("tokenize", str(mask_png), "--scheme", "multiclass", "-S", "8", "--starts", "2d", "-o", str(out))
    assert code == 0, text


def test_video_from_a_folder_of_frames(tmp_path: Path) -> None:
    mask, _ = _labels(16)
    for i in range(3):
        _write(tmp_path / "clip" / f"frame_{i}.png", np.roll(mask, i, axis=1))
    code, text = _viz("tokenize", str(tmp_path / "clip"), "--scheme", "3d-c", "-N", "3", "-S", "8", "-o", str(tmp_path))
    assert code == 0, text
    assert (tmp_path / "tokenize-3d-c.gif").is_file()
    code, text = _viz("tokenize", str(tmp_path / "clip"), "--scheme", "tac", "-N", "4", "-S", "8", "-o", str(tmp_path))
    assert code == 1 and "holds 3 frame PNG(s)" in text and "--num-frames 4 needs 4" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scheme", "zip"], "unknown tokenizer 'zip'; known schemes: binary, multiclass, lac"),
        (["--scheme", "lac", "-S", "128"], "--mask-size 128 is too big for a readable animation"),
        (["--scheme", "lac", "-N", "2"], "lac tokenizes single images; video schemes are 3d-c"),
        (["--scheme", "tac", "-N", "1"], "tac is a video scheme; give 2 or more frames"),
        (["--scheme", "lac", "--order", "diag"], "order must be one of 'row', 'col'; got 'diag'"),
        (["--scheme", "lac", "--max-frames", "1"], "--max-frames"),
    ],
)
def test_option_errors_say_what_to_use(args: list[str], message: str, tmp_path: Path) -> None:
    code, text = _viz("tokenize", *args, "-o", str(tmp_path))
    assert code != 0 and message in " ".join(text.split()), text
    assert not list(tmp_path.glob("*.gif"))


def test_input_errors_name_the_file(tmp_path: Path) -> None:
    mask, inst = _labels()
    mask_png = _write(tmp_path / "m.png", mask)
    out = str(tmp_path / "out")
    cases = [
        (["--scheme", "tac", str(mask_png)], f"{mask_png}: tac tokenizes a video of 2 frames; give a folder"),
        (["--scheme", "iw", str(mask_png)], "iw encodes instances: give --instances"),
        (["--scheme", "binary", str(mask_png)], "holds classes up to 3; the binary scheme takes 0/1 masks"),
        (["--scheme", "lac", "-C", "2", str(mask_png)], f"{mask_png}: holds class 3, above --num-classes 2"),
        (["--scheme", "lac", str(tmp_path / "nope.png")], "nope.png: no such file"),
        (["--scheme", "lac", "--instances", str(mask_png), str(mask_png)], "lac does not use instance ids"),
        (["--scheme", "lac", "--synthetic", str(mask_png)], "give MASK or --synthetic, not both"),
    ]
    for args, message in cases:
        code, text = _viz("tokenize", *args, "-S", "8", "-o", out)
        assert code != 0 and message in " ".join(text.split()), (args, text)
    small = _write(tmp_path / "small.png", inst[:16])
    code, text = _viz("tokenize", str(mask_png), "--scheme", "iw", "--instances", str(small), "-S", "8", "-o", out)
    assert code == 1 and "small.png: instance mask is 16x32 but" in " ".join(text.split())
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(rgb)
    code, text = _viz("tokenize", str(rgb), "-S", "8", "-o", out)
    assert code == 1 and "rgb.png" in text and "not a colour image" in " ".join(text.split())
    assert not Path(out).exists()


def test_curves_of_a_run_folder_and_errors(tmp_path: Path) -> None:
    png = tmp_path / "curves.png"
    code, text = _viz("curves", str(TINY_RUN), "--out", str(png))
    assert code == 0 and str(png) in " ".join(text.split())
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 400
    code, text = _viz("curves", str(tmp_path / "missing"))
    assert code == 1 and "no such file or folder" in text
    code, text = _viz("curves", str(TINY_RUN), "--out", str(tmp_path / "c.jpg"))
    assert code == 1 and "expected a .png file name" in text
