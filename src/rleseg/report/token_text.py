"""Human-readable names of tokens: what each token id of a tokenizer's vocabulary says.

A name is read from the vocabulary range the id falls in: ``start 37 (2,5)`` (a 1-D start and the pixel it
points at, ``(row,col)``; ``F2 (2,5)`` in frame 2 of a video), ``len 5``, ``class ipsc``, ``LAC ipsc len 5``,
``TAC 5 [2|1]`` (per-frame classes F1|F2, 0 = background), ``stuff dfc``, ``EOS`` ... Class names come
from ``class_names`` (background first, as in ``classes.txt``); without them classes are ``c1``, ``c2`` ...
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rleseg.tokenizers.base import Tokenizer

SPECIAL_NAMES = {"pad": "PAD", "eos": "EOS", "prompt": "PROMPT"}


def class_name(value: int, class_names: Sequence[str] | None = None) -> str:
    """Name of class ``value`` (0 is ``bg``): ``class_names[value]`` when given, else ``c<value>``."""
    if value == 0:
        return "bg"
    if class_names is not None and 0 < value < len(class_names):
        return str(class_names[value])
    return f"c{value}"


def pixel_of(tok: Tokenizer, flat_index: int) -> tuple[int, ...]:
    """Coordinates in :attr:`Tokenizer.mask_shape` (``(row, col)`` or ``(frame, row, col)``) of position
    ``flat_index`` of the tokenizer's flattened mask (its row- or column-major order)."""
    flattening = getattr(tok, "flattening", None)
    if flattening is None:
        raise ValueError(f"{tok.name}: the tokenizer has no flattening, so start tokens have no pixel")
    permuted = np.unravel_index(int(flat_index), flattening.permuted_shape)
    coords = [0] * len(flattening.shape)
    for axis, value in zip(flattening.axes, permuted, strict=True):
        coords[axis] = int(value)
    return tuple(coords)  # TAC flattens the (H, W) plane: a location shared by all frames


def format_pixel(coords: tuple[int, ...]) -> str:
    """``(2, 5)`` -> ``(2,5)``; ``(1, 2, 5)`` -> ``F2 (2,5)`` (frames numbered from 1, as in the paper)."""
    if len(coords) == 3:
        return f"F{coords[0] + 1} ({coords[1]},{coords[2]})"
    return "(" + ",".join(str(c) for c in coords) + ")"


def _frame_classes(tac_id: int, num_classes: int, num_frames: int) -> str:
    """TAC id -> per-frame classes ``[c1|c2|...]`` (F1 first): ``id = sum_i c_i (C+1)^i``."""
    base = num_classes + 1
    return "[" + "|".join(str((tac_id // base**i) % base) for i in range(num_frames)) + "]"


def token_names(
    tok: Tokenizer, tokens: Sequence[int] | np.ndarray, class_names: Sequence[str] | None = None
) -> list[str]:
    """Name of every token of ``tokens`` (``(T,)`` ids of ``tok``'s vocabulary), e.g. ``["start 37 (2,5)",
    "LAC c2 len 5", "EOS"]``. 2-D start coordinates come in pairs (line, then offset in the line) and are
    named ``row``/``col`` for images; ids outside the vocabulary are named ``? <id>``."""
    arr = np.asarray(tokens, dtype=np.int64).reshape(-1)
    vocab = tok.vocab
    ranges = vocab.range_of(arr)
    flattening = getattr(tok, "flattening", None)
    line_len = flattening.line_len if flattening is not None else 1
    is_image = len(tok.mask_shape) == 2 or tok.name in ("tac", "ltac")
    order = getattr(tok, "order", "row")
    coord_words = ("row", "col") if order == "row" else ("col", "row")
    if not is_image:
        coord_words = ("line", "offset")
    names: list[str] = []
    coord_next = 0  # 0: the next coords token is a line, 1: an offset
    for token, r in zip(arr.tolist(), ranges.tolist(), strict=True):
        if r < 0:
            names.append(f"? {token}")
            continue
        rng = vocab[vocab.names[r]]
        i = token - rng.start
        name = rng.name
        if name in SPECIAL_NAMES:
            names.append(SPECIAL_NAMES[name])
        elif name == "starts":
            word = "change at" if tok.name == "diff" else "start"
            names.append(f"{word} {i} {format_pixel(pixel_of(tok, i))}")
        elif name == "coords":
            names.append(f"{coord_words[coord_next]} {i}")
            coord_next = 1 - coord_next
        elif name == "lengths":
            names.append(f"len {i + 1}")
        elif name == "classes":
            names.append(f"class {class_name(i + 1, class_names)}")
        elif name == "stuff":
            names.append(f"stuff {class_name(i + 1, class_names)}")
        elif name == "lac":
            value, length = divmod(i, line_len)
            names.append(f"LAC {class_name(value + 1, class_names)} len {length + 1}")
        elif name == "tac":
            names.append(f"TAC {i + 1} {_frame_classes(i + 1, tok.num_classes, tok.num_frames)}")
        elif name == "ltac":
            value, length = divmod(i, line_len)
            names.append(f"LTAC {_frame_classes(value + 1, tok.num_classes, tok.num_frames)} len {length + 1}")
        elif name == "bac_classes":
            names.append(class_name(i, class_names) if i == 0 else f"class {class_name(i, class_names)}")
        elif name == "bac_lac":
            value, length = divmod(i, line_len)
            names.append(f"BAC {class_name(value, class_names)} len {length + 1}")
        elif name == "diff_classes":
            names.append(f"to {class_name(i, class_names)}")
        else:  # a range added later: its name and the position inside it
            names.append(f"{name} {i}")
    return names


SCHEME_SUMMARY = {
    "binary": "binary mask",
    "multiclass": "a separate class token",
    "lac": "Lengths-As-Class: one token holds class and length",
    "3d-c": "video flattened frame after frame",
    "3d-f": "video flattened with time fastest: runs cross frames",
    "tac": "frames collapsed to Time-As-Class ids",
    "ltac": "frames collapsed to Time-As-Class ids, LAC-style",
    "cw": "class by class: the class's binary runs, then its class token",
    "iw": "instance by instance: its binary runs, then its class token",
    "bac": "background is a class: (length, class) runs tile the mask, no start tokens",
    "diff": "only where the value changes: (position, new value)",
}
_WORDS = {"starts": "start", "coords": "row/col", "lengths": "length", "classes": "class", "tac": "TAC class"}


def scheme_summary(tok: Tokenizer) -> str:
    """One line saying how the scheme writes a run, e.g. ``"Lengths-As-Class: ...; (start, LAC) per run ·
    row-major, 1D starts"``."""
    text = SCHEME_SUMMARY.get(tok.name) or (type(tok).__doc__ or tok.name).strip().splitlines()[0]
    start_codec, value_codec = getattr(tok, "start_codec", None), getattr(tok, "value_codec", None)
    if tok.name == "diff" and tok.num_classes == 1:
        text = "only where the value changes: (position) per change, toggling the foreground"
    elif tok.name == "bac" and getattr(tok, "classes", "token") == "lac":
        text = "background is a class: one (class, length) token per run, runs tile the mask"
    elif start_codec is not None and value_codec is not None and tok.name not in ("cw", "iw"):
        names = [n for n in start_codec.range_names + value_codec.range_names if n != "coords"]
        if start_codec.mode == "2d":
            names.insert(0, "coords")
        words = [_WORDS.get(n, n.upper()) for n in names]
        text = f"{text}; ({', '.join(words)}) per run"
    details = []
    order = getattr(tok, "order", None)
    if order is not None:
        details.append(f"{order}-major")
    starts = getattr(tok, "starts", None)
    if isinstance(starts, str):
        details.append(f"{starts.upper()} starts")
    return text + (" · " + ", ".join(details) if details else "")
