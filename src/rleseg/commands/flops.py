"""``rleseg flops CONFIG --size H W``: GFLOPs of one forward pass of a config's network at batch 1, per component.

Counted with torch's ``FlopCounterMode`` (shape formulas of the matrix products, convolutions and attention
that run; a multiply-accumulate counts 2 FLOPs, so the "GFLOPs" of papers measured with fvcore, which counts
a multiply-accumulate as one, are the GMACs column). ``FlopCounterMode`` has no formula for grid sampling,
the core of multi-scale deformable attention; :func:`grid_sampler_flop` adds one: bilinear sampling reads
4 neighbours per output value and channel and weights them, 4 multiply-accumulates (8 FLOPs); nearest
sampling copies (0). Elementwise work (normalisation, activations, softmax, upsampling) is not counted, as
in fvcore. A component's count is the difference of the running total around its forward call; ``other`` is
the rest of the network (e.g. the class head). Post-processing of the outputs (mask upsampling, semantic
and panoptic inference) is not part of the forward pass and not counted.

The model is built from the config with random weights (nothing is downloaded) for ``classes`` foreground
classes (their count barely changes the cost). A family opts in by a ``flop_components()`` method naming
its parts (``mask2former``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rleseg.atomic import atomic_path
from rleseg.commands.common import CommandError, stdout
from rleseg.config import load_config

GRID_MODES = {0: 4, 1: 0, 2: 16}  # grid_sample interpolation mode -> neighbours read (bilinear, nearest, bicubic)


def grid_sampler_flop(
    input_shape: list[int], grid_shape: list[int], mode: int = 0, *args: Any, out_shape: Any = None, **kwargs: Any
) -> int:
    """FLOPs of ``aten.grid_sampler_2d``: input ``(N, C, H, W)``, grid ``(N, Ho, Wo, 2)`` -> ``2 * k * N * C * Ho *
    Wo`` for ``k`` neighbours weighted per output value (bilinear 4, bicubic 16, nearest 0)."""
    n, c = input_shape[0], input_shape[1]
    ho, wo = grid_shape[1], grid_shape[2]
    return 2 * GRID_MODES.get(int(mode), 4) * n * c * ho * wo


def count_flops(model: nn.Module, images: torch.Tensor, parts: dict[str, nn.Module]) -> dict[str, int]:
    """FLOPs of ``model(images)`` (no gradients): ``{part: flops, ..., "other": rest, "total": all}``."""
    from torch.utils.flop_counter import FlopCounterMode

    aten = torch.ops.aten
    mapping = {aten.grid_sampler_2d: grid_sampler_flop, aten.cudnn_grid_sampler: grid_sampler_flop}
    counter = FlopCounterMode(display=False, custom_mapping=mapping)
    counts = dict.fromkeys(parts, 0)
    handles = []
    for name, part in parts.items():
        start: dict[str, int] = {}

        def before(_: nn.Module, __: Any, name: str = name, start: dict[str, int] = start) -> None:
            start[name] = counter.get_total_flops()

        def after(_: nn.Module, __: Any, ___: Any, name: str = name, start: dict[str, int] = start) -> None:
            counts[name] += counter.get_total_flops() - start[name]

        handles += [part.register_forward_pre_hook(before), part.register_forward_hook(after)]
    try:
        with torch.no_grad(), counter:
            model(images)
    finally:
        for handle in handles:
            handle.remove()
    total = counter.get_total_flops()
    return {**counts, "other": total - sum(counts.values()), "total": total}


def flops(
    config: Path, overrides: list[str] | None, size: tuple[int, int], json_path: Path | None, classes: int = 1
) -> dict[str, Any]:
    """Count the FLOPs of ``config``'s network on one ``size`` ``(H, W)`` image, print a table, write ``json_path``
    (if given); returns the JSON's content. CommandError for a bad config or a family without a breakdown."""
    from rleseg.segmenters.loading import create_segmenter

    if min(size) < 1 or classes < 1:
        raise CommandError(f"--size must be two positive sides and --classes at least 1, got {size} and {classes}")
    try:
        cfg = load_config(config, overrides)
        names = ["background", *(f"class{i}" for i in range(1, classes + 1))]
        model = create_segmenter(cfg, names).eval()
    except ValueError as err:
        raise CommandError(str(err)) from None
    parts_of = getattr(model, "flop_components", None)
    if parts_of is None:
        raise CommandError(
            f"model family {cfg.model.family!r} has no FLOPs breakdown; rleseg flops supports: mask2former"
        )
    images = torch.zeros(1, 3, *size, dtype=torch.uint8)
    counts = count_flops(model, images, parts_of())
    result = {
        "config": str(config),
        "family": cfg.model.family,
        "size": list(size),
        "batch": 1,
        "classes": classes,
        "gflops": {k: v / 1e9 for k, v in counts.items()},
        "gmacs": {k: v / 2e9 for k, v in counts.items()},
        "counter": "torch FlopCounterMode, 2 FLOPs per multiply-accumulate, grid sampling 8 FLOPs per bilinear value",
    }
    print_table(result)
    if json_path is not None:
        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(result, indent=2) + "\n")
    return result


def print_table(result: dict[str, Any]) -> None:
    """The per-component table of a :func:`flops` result."""
    from rich.table import Table

    h, w = result["size"]
    table = Table(title=f"{result['config']} ({result['family']}), {h} x {w}, batch 1")
    for column in ("component", "GFLOPs", "GMACs", "share"):
        table.add_column(column, justify="left" if column == "component" else "right")
    total = result["gflops"]["total"] or 1.0
    for name, value in result["gflops"].items():
        table.add_row(name, f"{value:.3f}", f"{result['gmacs'][name]:.3f}", f"{value / total:.1%}")
    stdout().print(table)
