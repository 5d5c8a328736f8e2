"""The stylesheet of the HTML pages, inlined in their ``<style>`` element (no external files, no scripts), and
the document around a page's body."""

from __future__ import annotations

import datetime as _dt
import html

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bg: #f5f7fa; --card: #ffffff;
        --accent: #2f5e9e; --head: #e6edf7; --bad: #b42318; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 20px 40px; }
header h1 { font-size: 22px; margin: 0 0 4px; }
header p.sub { margin: 0 0 12px; color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; font-size: 13px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 18px 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px;
        min-width: 140px; }
.card .value { font-size: 24px; font-weight: 600; color: var(--accent); }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px;
          margin: 0 0 16px; }
section h2 { font-size: 16px; margin: 0 0 10px; }
.row { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }
.row > section { margin: 0 0 16px; }
@media (max-width: 900px) { .row { grid-template-columns: 1fr; } }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { background: var(--head); font-weight: 600; font-size: 13px; }
tr.summary td { font-weight: 600; background: #fafbfc; }
tr.summary:first-of-type td { border-top: 2px solid #c5ccd6; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 7px;
          vertical-align: -1px; border: 1px solid rgba(0, 0, 0, .25); }
p.note { color: var(--muted); font-size: 12px; margin: 8px 0 0; }
img.chart { display: block; width: 100%; max-width: 760px; height: auto; margin: 4px 0; }
#confusion img.chart { max-width: 540px; }
#curves img.chart { max-width: 1100px; }
table.compact th, table.compact td { padding: 4px 6px; }
table.compact td:first-child { white-space: normal; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 0 0 12px; color: var(--muted); font-size: 13px; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 14px; }
figure.case { margin: 0; border: 1px solid var(--line); border-radius: 6px; overflow: hidden; background: #fafbfc; }
figure.case img { display: block; width: 100%; height: auto; image-rendering: pixelated; background: #282828; }
figure.case .panels { display: grid; grid-auto-flow: column; grid-auto-columns: 1fr; color: var(--muted);
                      font-size: 11px; text-align: center; padding: 3px 0 0; }
figure.case figcaption { display: flex; justify-content: space-between; gap: 8px; padding: 6px 10px 8px; }
figure.case .name { font-weight: 600; overflow-wrap: anywhere; }
figure.case .rank { color: var(--muted); font-weight: 400; margin-right: 6px; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 10px; font-size: 12px; margin-left: 4px;
         background: #edf1f7; white-space: nowrap; }
.badge.low { background: #fde8e7; color: var(--bad); }
ul.problems { margin: 0; padding-left: 18px; font-family: ui-monospace, "DejaVu Sans Mono", monospace;
              font-size: 12px; }
footer { color: var(--muted); font-size: 12px; margin-top: 8px; }
"""


def html_page(title: str, body: str, footer: str, extra_css: str = "") -> str:
    """A whole HTML document: ``title`` and ``footer`` are plain text (escaped); ``{stamp}`` in ``footer`` becomes
    the date and time; ``body`` is the HTML inside ``<main>``; ``extra_css`` follows the shared stylesheet."""
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}{extra_css}</style></head><body><main>{body}"
        f"<footer>{html.escape(footer.format(stamp=stamp))}</footer></main></body></html>\n"
    )
