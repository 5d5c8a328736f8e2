"""Animated GIFs are written whole (atomically) and hold every frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rleseg.commands.common import write_gif


def test_gif_holds_every_frame(tmp_path: Path) -> None:
    frames = [np.full((6, 9, 3), v, np.uint8) for v in (0, 120, 250)]
    path = write_gif(tmp_path / "sub" / "a.gif", frames, fps=5)
    with Image.open(path) as gif:
        assert gif.n_frames == 3 and gif.size == (9, 6)
        gif.seek(2)
        assert np.asarray(gif.convert("RGB"))[0, 0, 0] == 250
    assert [p.name for p in path.parent.iterdir()] == ["a.gif"]  # no temporary file left behind


def test_frames_of_different_sizes_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one size"):
        write_gif(tmp_path / "a.gif", [np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)])
    with pytest.raises(ValueError, match="no frames"):
        write_gif(tmp_path / "a.gif", [])
    assert not any(tmp_path.iterdir())
