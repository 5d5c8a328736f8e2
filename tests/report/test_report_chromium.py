"""The HTML report in a real browser: headless Chromium opens it without errors, its DOM holds the metrics
table and the gallery, and its screenshot shows the table and the coloured overlays.

Slow (a browser start); installs nothing: skipped when Chromium is absent (``make test-all`` installs it
from Debian's packages when it can).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.chromium_helpers import CHROMIUM, HEADER_BLUE, SKIP_REASON, chromium, page_errors
from typer.testing import CliRunner

from rleseg.cli import app

pytestmark = pytest.mark.slow

runner = CliRunner()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of four synthetic test images scored against damaged copies of their own masks."""
    if CHROMIUM is None:
        pytest.skip(SKIP_REASON)
    root = tmp_path_factory.mktemp("report")
    data = root / "cells"
    res = runner.invoke(app, ["data", "synth", "--out", str(data), "--size", "96", "--counts", "1,1,4"])
    assert res.exit_code == 0, res.output
    pred = root / "pred" / "masks"
    pred.mkdir(parents=True)
    for k, path in enumerate(sorted((data / "test" / "masks").glob("*.png"))):
        mask = np.array(Image.open(path))
        mask[: 12 * k] = 0  # more and more of the top rows missed
        Image.fromarray(mask).save(pred / path.name)
    out = root / "eval"
    res = runner.invoke(app, ["evaluate", "--pred", str(root / "pred"), "--gt", str(data / "test"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out / "report.html"


def test_chromium_opens_the_report_without_errors(report: Path, tmp_path: Path) -> None:
    url = report.resolve().as_uri()
    res = chromium("--enable-logging=stderr", "--v=0", "--dump-dom", url, profile=tmp_path / "profile")
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    assert 'id="metrics-table"' in dom and 'id="gallery"' in dom
    assert len(re.findall(r'<tr class="class"', dom)) == 2, "rows ipsc and dfc"
    assert len(re.findall(r'<figure class="case"', dom)) == 4
    embedded = re.findall(r'<img [^>]*src="data:image/png;base64,', dom)
    assert len(embedded) == len(re.findall(r"<img ", dom)) == 4 + 2, "strips, bars, confusion: all embedded"
    assert "http://" not in dom and "https://" not in dom, "nothing to fetch"
    errors = page_errors(res.stderr, report)
    assert not errors, errors


def test_screenshot_shows_the_table_and_the_overlays(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    res = chromium(f"--screenshot={shot}", report.resolve().as_uri(), profile=tmp_path / "profile")
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    px = np.asarray(Image.open(shot).convert("RGB")).astype(np.int64)
    assert px.shape[:2] == (2000, 1280)
    # the metrics table: its header band, with dark text in and below it
    header = np.all(np.abs(px - HEADER_BLUE) <= 2, axis=-1)
    rows = np.flatnonzero(header.sum(1) > 300)
    assert rows.size, "no table header band in the screenshot"
    top = int(rows[0])
    band = px[top : top + 180]
    dark = (band.sum(-1) < 3 * 110).sum()
    assert dark > 1500, f"the table region looks blank ({dark} dark pixels)"
    # the overlays: outlines in the palette's class colours, far more than the colour swatches alone
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    green = ((g > 150) & (r < 60) & (b < 60)).sum()  # class 1, (0, 200, 0)
    red = ((r > 180) & (g < 80) & (b < 80)).sum()  # class 2, (230, 25, 25)
    assert green > 1000 and red > 1000, (green, red)  # the swatches alone are about 100 pixels each
