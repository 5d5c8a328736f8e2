"""Choose ``generation.earliest_start`` for a trained token model on its validation split.

The fraction that scores best moves with training (on hgsc-stroma: 0.2 after ~1,200 CPU steps, 0.35-0.5 after
~1,500; on the synthetic cells 0.05 for weaker models), so one fixed value in a config serves few runs. With
``generation.earliest_start_choices`` set, :func:`choose_earliest_start` predicts the validation images with each
candidate (the prediction settings of ``rleseg evaluate``: stride, views, merge), keeps the one with the highest
class-agnostic Dice (a start choice decides where objects are found, not their class; ties: the earlier
candidate) and :func:`write_choice` stores it in the checkpoint's config, so ``rleseg evaluate`` and
``rleseg predict`` use it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rleseg.atomic import atomic_path
from rleseg.segmenters.start_choice_record import CHOICE_KEY

if TYPE_CHECKING:
    from rleseg.data.sample import SegmentationSource
    from rleseg.segmenters.base import Segmenter


@dataclass
class StartChoice:
    """The candidates' validation scores and the one chosen: ``scores`` ``[(fraction, class-agnostic Dice,
    mean Dice)]`` in candidate order (Dice in [0, 1]; None where a class-agnostic Dice is undefined), the
    ``chosen`` fraction, the images scored and the seconds it took."""

    chosen: float
    scores: list[tuple[float, float | None, float | None]]
    images: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"chosen", "images", "seconds", "scores": [{"fraction", "class_agnostic_dice",
        "mean_dice"}]}``."""
        rows = [{"fraction": f, "class_agnostic_dice": a, "mean_dice": m} for f, a, m in self.scores]
        return {"chosen": self.chosen, "images": self.images, "seconds": self.seconds, "scores": rows}


def check_choices(choices: Sequence[float]) -> list[float]:
    """``choices`` as a list of distinct fractions in (0, 1] (1: the most likely start, i.e. off); ValueError
    naming the bad value otherwise."""
    out: list[float] = []
    for f in choices:
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1:
            raise ValueError(
                f"generation.earliest_start_choices holds {f!r}; expected fractions in (0, 1] (1: off), "
                "e.g. [0.2, 0.35, 0.5, 1.0]"
            )
        if float(f) in out:
            raise ValueError(f"generation.earliest_start_choices lists {f!r} twice")
        out.append(float(f))
    if not out:
        raise ValueError("generation.earliest_start_choices is empty; expected fractions, or null for no choice")
    return out


def check_can_choose(segmenter: Segmenter, choices: Sequence[float]) -> list[float]:
    """Before training: ``choices`` as :func:`check_choices` gives them; ValueError when they are bad or
    ``segmenter`` cannot choose among start tokens (not a token model, a scheme without one start token per run,
    sampling instead of greedy decoding); its generation settings are left as they were."""
    fractions = check_choices(choices)
    before = segmenter.cfg.generation.earliest_start
    try:
        segmenter.set_earliest_start(fractions[0])
    except ValueError as err:
        raise ValueError(f"generation.earliest_start_choices={fractions}: {err}") from None
    segmenter.set_earliest_start(before)
    return fractions


def choose_earliest_start(
    segmenter: Segmenter,
    source: SegmentationSource,
    choices: Sequence[float],
    *,
    device: str = "auto",
    views: int | None = None,
    show_progress: bool = True,
) -> StartChoice:
    """Predict every sample of ``source`` (images or videos, read again for each fraction) with each fraction
    of ``choices`` and return the scores and the best by class-agnostic Dice; ``segmenter`` is left generating
    with the chosen fraction. ``views``: test-time views (default: the config's ``data.eval_views``, as
    ``rleseg evaluate``). ValueError when ``source`` is empty or the model cannot choose among starts."""
    from rleseg.inference.predictor import Predictor
    from rleseg.metrics import SegmentationEvaluator

    fractions = check_can_choose(segmenter, choices)
    if len(source) == 0:
        raise ValueError("no validation samples to choose generation.earliest_start on")
    predictor = Predictor(segmenter, device=device, views=views)
    names = predictor.class_names[1:]
    start = time.monotonic()
    scores: list[tuple[float, float | None, float | None]] = []
    for f in fractions:
        segmenter.set_earliest_start(f)
        evaluator = SegmentationEvaluator(names)
        for i in _maybe_progress(range(len(source)), f"earliest_start {f:g} on validation", show_progress):
            sample = source[i]
            evaluator.update(sample.mask, predictor.predict_sample(sample).mask)
        report = evaluator.report()
        scores.append((f, report["class_agnostic"]["dice"], report["mean"]["dice"]))
    best = max(range(len(scores)), key=lambda i: (_or_minus_one(scores[i][1]), -i))
    segmenter.set_earliest_start(fractions[best])
    return StartChoice(fractions[best], scores, len(source), time.monotonic() - start)


def _or_minus_one(x: float | None) -> float:
    return -1.0 if x is None else x


def _maybe_progress(items: Sequence[Any], description: str, show: bool) -> Any:
    from rleseg.commands.common import progress

    return progress(items, description) if show else items


def write_choice(checkpoint: Path, choice: StartChoice) -> None:
    """Store ``choice`` in the checkpoint file: its config's ``generation.earliest_start`` becomes the chosen
    fraction, the sweep goes under ``CHOICE_KEY``; written atomically (a crash leaves the old file whole)."""
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    config = ckpt.get("hyper_parameters", {}).get("config")
    if not isinstance(config, dict):
        raise ValueError(f"{checkpoint} holds no config to store generation.earliest_start in")
    config.setdefault("generation", {})["earliest_start"] = choice.chosen
    ckpt[CHOICE_KEY] = choice.as_dict()
    with atomic_path(checkpoint) as tmp:
        torch.save(ckpt, tmp)
