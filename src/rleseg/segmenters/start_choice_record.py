"""How a checkpoint records the ``generation.earliest_start`` chosen on validation after training, and how that
record reads in a sentence (``rleseg train`` prints it; ``rleseg evaluate`` names it in its report).

The record sits in the checkpoint file under :data:`CHOICE_KEY`, beside the config whose
``generation.earliest_start`` it set: ``{"chosen": float, "images": int, "seconds": float, "scores": [{"fraction",
"class_agnostic_dice", "mean_dice"}]}`` (Dice in [0, 1], None where undefined).
"""

from __future__ import annotations

from typing import Any

CHOICE_KEY = "rleseg_earliest_start_choice"


def scores_text(record: dict[str, Any]) -> str:
    """Every candidate's validation class-agnostic Dice in %, the chosen one marked, e.g.
    ``"0.2: 67.36, 0.35: 68.01 (chosen)"``."""
    parts = []
    for row in record["scores"]:
        dice = row["class_agnostic_dice"]
        parts.append(f"{row['fraction']:g}: {'–' if dice is None else f'{100 * dice:.2f}'}")
        parts[-1] += " (chosen)" if row["fraction"] == record["chosen"] else ""
    return ", ".join(parts)


def samples_text(record: dict[str, Any]) -> str:
    """``"6 validation samples"`` (the images or videos the choice was scored on)."""
    n = int(record["images"])
    return f"{n} validation sample{'s' if n != 1 else ''}"
