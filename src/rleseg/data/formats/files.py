"""Reading image, label and class-list files into numpy arrays, with errors that name the file.

Everything here is shared by the dataset formats. Errors are :class:`DatasetError` (a ``ValueError``)
whose message starts with the offending path and says what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
LABEL_DTYPE = np.int32  # dtype of every class mask and instance mask the readers return

_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")  # more than 8 bits per pixel, one channel
_LABEL_MODES = ("L", "P", "1", "I;16", "I;16L", "I;16B", "I;16N", "I")  # single-channel integer modes
_MAX_LISTED = 10  # problems printed in one error message before "... and N more"

T = TypeVar("T")


class DatasetError(ValueError):
    """A malformed dataset: the message names the file (or folder) and what was expected."""


def summarize(problems: list[str], where: Path | str) -> str:
    """One error message for a list of problems: the problem itself when there is one, else a short list."""
    if len(problems) == 1:
        return problems[0]
    shown = "\n  ".join(problems[:_MAX_LISTED])
    more = len(problems) - _MAX_LISTED
    tail = f"\n  ... and {more} more (validate() lists them all)" if more > 0 else ""
    return f"{len(problems)} problems in {where}:\n  {shown}{tail}"


def attempt(read: Callable[[Path], T], path: Path, problems: list[str]) -> T | None:
    """Call ``read(path)``; on :class:`DatasetError` append its message to ``problems`` and return None."""
    try:
        return read(path)
    except DatasetError as err:
        problems.append(str(err))
        return None


def natural_key(name: str) -> tuple[tuple[object, ...], str]:
    """Sort key that orders digit runs by value, so ``frame_9`` comes before ``frame_10``."""
    parts = re.split(r"(\d+)", name)  # even positions text, odd positions digits
    key = tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts))
    return key, name


def list_files(folder: Path) -> list[Path]:
    """Visible regular files of ``folder`` (no sub-folders, no dot-files), in natural order."""
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    return sorted(files, key=lambda p: natural_key(p.name))


def list_dirs(folder: Path) -> list[Path]:
    """Visible sub-folders of ``folder``, in natural order."""
    dirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(dirs, key=lambda p: natural_key(p.name))


def open_image(path: Path) -> Image.Image:
    """Open and fully decode an image file, turning any failure into a DatasetError naming it."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except UnidentifiedImageError as err:
        raise DatasetError(f"{path}: cannot read the file: not a recognised image format") from err
    except Exception as err:  # Pillow raises OSError, SyntaxError, ValueError, struct.error ... on bad files
        raise DatasetError(f"{path}: cannot read the file ({err}); expected a valid image file") from err


def stretch_to_uint8(values: np.ndarray) -> np.ndarray:
    """Scale ``values`` linearly so their own min maps to 0 and max to 255; constant input gives zeros.

    ``values``: any shape, any real dtype. Returns uint8 of the same shape. NaNs become 0.
    """
    a = np.nan_to_num(values.astype(np.float64))
    if a.size == 0:
        return np.zeros(a.shape, dtype=np.uint8)
    lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        return np.zeros(a.shape, dtype=np.uint8)
    return np.round((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def read_rgb(path: Path) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB.

    8-bit RGB is kept; 8-bit grayscale, palette, CMYK images are converted with Pillow (values kept);
    alpha is dropped. Single-channel images with more than 8 bits (16-bit, 32-bit int, float: e.g.
    microscopy TIFFs) are scaled by the image's own min/max to 0..255 (see :func:`stretch_to_uint8`)
    and repeated to three channels. Multi-page TIFFs give their first page.
    """
    img = open_image(path)
    if img.mode == "RGB":
        return np.asarray(img, dtype=np.uint8)
    if img.mode in _WIDE_MODES:
        gray = stretch_to_uint8(np.asarray(img))
        return np.repeat(gray[..., None], 3, axis=2)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def read_label(path: Path, what: str = "mask") -> np.ndarray:
    """Read a single-channel label PNG (class ids or instance ids) as ``(H, W)`` int32.

    Accepts 8-bit grayscale (``L``), palette (``P``: the palette indices are the ids), 1-bit, and 16/32-bit
    integer images. ``what`` names the file's role in error messages ("mask", "instance mask").
    Raises DatasetError for multi-channel (RGB) or float files and for negative ids.
    """
    img = open_image(path)
    if img.mode not in _LABEL_MODES:
        bands = len(img.getbands())
        raise DatasetError(
            f"{path}: {what} is mode {img.mode} with {bands} channel(s); expected a single-channel PNG "
            "of integer ids (mode L, P or 16-bit), not a colour image"
        )
    ids = np.asarray(img).astype(LABEL_DTYPE)
    if ids.size and int(ids.min()) < 0:
        raise DatasetError(f"{path}: {what} holds negative id {int(ids.min())}; expected ids >= 0")
    return ids


def read_classes_txt(path: Path) -> list[str]:
    """Read ``classes.txt``: one class name per line, background first; blank lines are skipped.

    Returns the names, background included, so class id ``i`` is ``names[i]``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: cannot read the class list ({err}); expected UTF-8 text") from err
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) < 2:
        raise DatasetError(
            f"{path}: lists {len(names)} name(s); expected the background on the first line "
            "and at least one class after it"
        )
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DatasetError(f"{path}: class name(s) {', '.join(dupes)} appear more than once; expected unique")
    return names


def default_classes(max_id: int) -> list[str]:
    """Class names when no ``classes.txt`` is given: ``background, class_1, ..., class_<max_id>``."""
    return ["background", *(f"class_{i}" for i in range(1, max_id + 1))]


def size_mismatch(path: Path, shape: Iterable[int], ref: Path, ref_shape: Iterable[int], what: str) -> str:
    """Problem line for a file whose ``(H, W)`` differs from the file it must match."""
    h, w = tuple(shape)[:2]
    rh, rw = tuple(ref_shape)[:2]
    return f"{path}: {what} is {h}x{w} (HxW) but {ref} is {rh}x{rw}; expected the same size"
