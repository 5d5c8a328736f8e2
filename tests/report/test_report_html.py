"""The HTML report: it parses, has a table row per class, embeds every image as a PNG, shows the gallery
worst first, escapes every text, and is written atomically."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rleseg.metrics import SegmentationEvaluator
from rleseg.report.gallery import Gallery
from rleseg.report.html import LengthData, ReportInput, render_report, write_report

VOID = {"meta", "img", "br", "hr", "input", "link", "source", "wbr"}
NASTY = '<b>cell & "co"</b>'  # a class name that must be escaped


class Tree(HTMLParser):
    """Checks that every element is closed in order and records (tag, attributes, text inside <td>/<th>)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None], list[str]]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs), list(self.stack)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a, _ in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def parse(text: str) -> Tree:
    tree = Tree()
    tree.feed(text)
    tree.close()
    assert not tree.errors, tree.errors[:5]
    assert not tree.stack, f"unclosed: {tree.stack}"
    return tree


def evaluation(names: list[str], images: int = 5, keep: int = 3) -> tuple[SegmentationEvaluator, Gallery]:
    """Images whose predictions get worse with the index: image k has k of 8 rows wrong."""
    ev = SegmentationEvaluator(names)
    gallery = Gallery(len(names), keep=keep)
    rng = np.random.default_rng(0)
    for k in range(images):
        gt = np.zeros((16, 16), np.int64)
        gt[4:12, 2:8] = 1
        gt[2:14, 10:14] = len(names)
        pred = gt.copy()
        pred[: 2 * k] = 0  # worse and worse
        image = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
        ev.update(gt, pred)
        gallery.add(f"img_{k}", gt, pred, image if k != 1 else None)
    return ev, gallery


def report_input(names: list[str], lengths: LengthData | None = None, **kw: object) -> ReportInput:
    ev, gallery = evaluation(names)
    return ReportInput(
        title="test <report>",
        metrics=ev.report(),
        confusion=ev.cm.matrix,
        class_names=["background", *names],
        gallery=gallery.items(),
        gallery_total=gallery.seen,
        lengths=lengths,
        **kw,  # type: ignore[arg-type]
    )


NASTY_FACT = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def page() -> str:
    """One report (rendered once: drawing the charts takes a moment) with awkward names, facts and problems."""
    lengths = LengthData(np.array([5, 9, 64, 12]), np.array([7, 80, 11, 13]), 64)
    facts = [("checkpoint", "a/b.ckpt"), ("data", NASTY_FACT)]
    r = report_input(["ipsc", "dfc", NASTY], lengths, facts=facts, problems=[f"{NASTY}.png: bad"], notes=["a<b"])
    return render_report(r)


def test_report_parses_with_a_table_row_per_class_and_embedded_pngs(page: str) -> None:
    tree = parse(page)
    assert tree.find("table", id="metrics-table") and tree.find("div", id="gallery")
    rows = [a.get("data-row") for a in tree.find("tr") if a.get("class") == "class"]
    assert rows == ["ipsc", "dfc", NASTY], "one row per class, in label order (the parser unescapes the name)"
    summary = [a.get("data-row") for a in tree.find("tr") if a.get("class") == "summary"]
    assert summary == ["mean", "fw", "agnostic"]
    images = tree.find("img")
    assert len(images) == 3 + 3, "bars, confusion matrix, length histogram and three gallery strips"
    for attrs in images:
        src = attrs.get("src") or ""
        assert src.startswith("data:image/png;base64,"), src[:40]
        png = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert png.format == "PNG" and min(png.size) > 8
    assert "<script" not in page and "http://" not in page and "https://" not in page
    length_rows = {a.get("data-row") for a in tree.find("tr") if a.get("data-row") in ("generated", "ground_truth")}
    assert length_rows == {"generated", "ground_truth"}
    assert "<td>25.0</td>" in page, "1 of 4 generated sequences reached L=64"
    assert tree.find("section", id="problems")


def test_gallery_is_sorted_worst_first_and_keeps_only_the_worst(page: str) -> None:
    cases = parse(page).find("figure")
    assert [c.get("data-name") for c in cases] == ["img_4", "img_3", "img_2"], "5 images, the 3 worst kept"
    dice = [float(c.get("data-dice") or "nan") for c in cases]
    assert dice == sorted(dice) and dice[0] < dice[-1]
    assert "the 3 worst of 5 images" in page


def test_every_text_is_escaped(page: str) -> None:
    assert NASTY not in page and NASTY_FACT not in page and "a<b" not in page
    assert "&lt;b&gt;cell &amp; &quot;co&quot;&lt;/b&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<title>test &lt;report&gt;</title>" in page


def test_gallery_without_image_shows_two_panels() -> None:
    ev, gallery = evaluation(["a"], images=2, keep=2)  # img_1 has no image
    by_name = {item.name: item for item in gallery.items()}
    assert by_name["img_1"].has_image is False and by_name["img_0"].has_image is True
    assert by_name["img_0"].strip.shape == (16, 3 * 16 + 8, 3)
    assert by_name["img_1"].strip.shape == (16, 2 * 16 + 4, 3)


def test_panoptic_columns_appear_with_instances() -> None:
    ev = SegmentationEvaluator(["a"])
    gt = np.zeros((8, 8), np.int64)
    gt[:4] = 1
    inst = (gt > 0).astype(np.int64)
    ev.update(gt, gt, inst, inst)
    gallery = Gallery(1)
    gallery.add("x", gt, gt, None)
    r = ReportInput("t", ev.report(), ev.cm.matrix, ["background", "a"], gallery.items(), 1)
    text = render_report(r)
    assert "<th>PQ</th>" in text and "<th>RQ</th>" in text
    assert len(parse(text).find("img")) == 4, "bars, PQ bars, confusion matrix, one strip"


def test_mismatched_inputs_are_rejected() -> None:
    r = report_input(["a", "b"])
    r.class_names = ["background", "a"]
    with pytest.raises(ValueError, match="needs 3 class names"):
        render_report(r)


def test_write_report_is_atomic(tmp_path: Path) -> None:
    out = write_report(report_input(["a"]), tmp_path / "sub" / "report.html")
    assert out.is_file() and out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["report.html"], "no temporary file left"
