"""Atomic file writes: write a temporary file beside the target, then rename it over (every output rleseg
writes goes through :func:`atomic_path`)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder (created if needed); on success it replaces ``path``.

    A reader never sees a half-written file, and a failure leaves any old ``path`` untouched and no
    temporary file behind. The temporary name keeps ``path``'s suffix, so writers that pick the format
    from the suffix (Pillow, matplotlib) still do.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
