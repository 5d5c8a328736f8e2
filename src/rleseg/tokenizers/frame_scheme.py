"""The image scheme that writes one frame of a ``3d-c`` clip (clip models with one sequence per frame).

A 3d-c clip is flattened frame after frame, so its runs are those of its frames, one frame's after the
other's, each written as the image scheme with the same options would write it (starts shifted by the frame's
offset). A model that writes each frame as its own sequence (``model.pix2seq.frame_fusion: per-frame``) uses
that image scheme: ``binary`` for one class, ``lac`` for ``classes: lac``, ``multiclass`` otherwise.
"""

from __future__ import annotations

from rleseg.tokenizers.base import Tokenizer
from rleseg.tokenizers.flat import Video3DCTokenizer
from rleseg.tokenizers.registry import create_tokenizer


def frame_tokenizer(tok: Tokenizer) -> Tokenizer:
    """The image tokenizer (mask ``(S_h, S_w)``) that writes one frame of ``tok``'s ``(N, S_h, S_w)`` clips,
    with ``tok``'s class count, order, starts, run order and seed, and an even share of its budget: L // N
    tokens per frame (EOS included), so a clip's frames write at most about L tokens in all.

    Raises ValueError for schemes other than 3d-c (3d-f interleaves frames; TAC and LTAC write all frames'
    classes in one run).
    """
    if not isinstance(tok, Video3DCTokenizer):
        raise ValueError(
            f"one sequence per frame needs the 3d-c scheme (runs of one frame after another); got tokenizer "
            f"{tok.name!r}"
        )
    name = "binary" if tok.num_classes == 1 else ("lac" if tok.classes == "lac" else "multiclass")
    return create_tokenizer(
        name,
        mask_size=(tok.height, tok.width),
        num_classes=tok.num_classes,
        order=tok.order,
        starts=tok.starts,
        run_order=tok.run_order,
        seed=tok.seed,
        max_len=None if tok.max_len is None else max(2, tok.max_len // tok.num_frames),
    )
