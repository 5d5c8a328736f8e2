"""Headless Chromium for the slow page tests: where it is, how it is started, and the page errors it logged."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
SKIP_REASON = "Chromium is not installed (`apt-get install chromium`, or `make test-all` as root)"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1280,2000",
]
HEADER_BLUE = (230, 237, 247)  # thead background of the report's tables (report/style.py: --head)


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with ``args`` and a fresh profile folder; its output, not checked."""
    assert CHROMIUM is not None
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def page_errors(stderr: str, page: Path) -> list[str]:
    """Console messages, uncaught errors and failed loads Chromium logged (``--enable-logging=stderr``)."""
    return [
        line
        for line in stderr.splitlines()
        if ("CONSOLE" in line or "Uncaught" in line or "net::ERR" in line or "Failed to load" in line)
        or ("ERROR" in line and page.name in line)
    ]
