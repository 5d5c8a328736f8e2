"""The page of ``rleseg compare`` in a real browser: headless Chromium opens it without errors, its DOM holds
both tables and the side-by-side grid, and its screenshot shows the tables and the coloured overlays.

Slow (two tiny trainings and a browser start); installs nothing: skipped when Chromium is absent (``make
test-all`` installs it from Debian's packages when it can).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from tests.chromium_helpers import CHROMIUM, HEADER_BLUE, SKIP_REASON, chromium, page_errors
from tests.cli_helpers import TINY_RUN
from typer.testing import CliRunner

from rleseg.cli import app

pytestmark = pytest.mark.slow

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"
TINY = [*TINY_RUN, "tokenizer.max_len=64", "data.batch_size=2", "train.max_steps=3", "train.val_every_n_epochs=10"]
runner = CliRunner()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """comparison.html of two tiny token models (lac, multiclass) on four 64-pixel test images."""
    if CHROMIUM is None:
        pytest.skip(SKIP_REASON)
    root = tmp_path_factory.mktemp("compare")
    data = root / "cells"
    res = runner.invoke(app, ["data", "synth", "--out", str(data), "--size", "64", "--counts", "4,1,4"])
    assert res.exit_code == 0, res.output
    config = yaml.safe_load(DEMO.read_text())
    config["tokenizer"]["name"] = "multiclass"
    (root / "multiclass.yaml").write_text(yaml.safe_dump(config))
    sets = [arg for s in TINY for arg in ("--set", s)]
    args = ["compare", str(DEMO), str(root / "multiclass.yaml"), "--data", str(data), "--out", str(root / "out")]
    res = runner.invoke(app, [*args, *sets], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return root / "out" / "comparison.html"


def test_chromium_opens_the_page_without_errors(page: Path, tmp_path: Path) -> None:
    res = chromium("--enable-logging=stderr", "--v=0", "--dump-dom", page.resolve().as_uri(), profile=tmp_path / "p")
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    assert 'id="summary-table"' in dom and 'id="class-table"' in dom and 'id="grid"' in dom
    assert len(re.findall(r"<tr class=\"model[^\"]*\" data-model=", dom)) == 2
    assert len(re.findall(r'<div class="case-row"', dom)) == 4
    embedded = re.findall(r'<img [^>]*src="data:image/png;base64,', dom)
    assert len(embedded) == len(re.findall(r"<img ", dom)) == 4 * (2 + 2), "image, truth, two models: embedded"
    errors = page_errors(res.stderr, page)
    assert not errors, errors


def test_screenshot_shows_the_tables_and_the_overlays(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "comparison.png"
    res = chromium(f"--screenshot={shot}", page.resolve().as_uri(), profile=tmp_path / "p")
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    px = np.asarray(Image.open(shot).convert("RGB")).astype(np.int64)
    assert px.shape[:2] == (2000, 1280)
    assert np.unique(px.reshape(-1, 3), axis=0).shape[0] > 500, "more than a blank page"
    # both tables: their header bands, with dark text in and below each
    header = np.all(np.abs(px - HEADER_BLUE) <= 2, axis=-1)
    rows = np.flatnonzero(header.sum(1) > 300)
    bands = [int(r) for k, r in enumerate(rows) if k == 0 or r - rows[k - 1] > 40]
    assert len(bands) >= 2, f"expected the summary and per-class header bands, found rows {bands}"
    for top in bands[:2]:
        dark = (px[top : top + 60].sum(-1) < 3 * 110).sum()
        assert dark > 800, f"the table at row {top} looks blank ({dark} dark pixels)"
    # the grid: ground-truth overlays in the palette's class colours, far more than the legend swatches
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    green = ((g > 150) & (r < 60) & (b < 60)).sum()  # class 1, (0, 200, 0)
    red = ((r > 180) & (g < 80) & (b < 80)).sum()  # class 2, (230, 25, 25)
    assert green > 1000 and red > 1000, (green, red)
