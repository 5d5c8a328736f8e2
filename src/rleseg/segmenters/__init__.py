"""Model families behind one contract (:class:`~rleseg.segmenters.base.Segmenter`).

``create_segmenter(cfg, class_names)`` builds the family ``cfg.model.family`` names; ``load_segmenter(path)``
loads any family's checkpoint; ``register_family(name, cls, config_cls)`` adds a family. The Lightning-based
classes are imported on first use, so ``from rleseg.segmenters import list_families`` stays light.
"""

from __future__ import annotations

from rleseg.segmenters.registry import (
    family_config_class,
    list_families,
    register_family,
    segmenter_class,
    unregister_family,
)
from rleseg.segmenters.spec import OutputSpec, WindowPrediction

__all__ = [
    "OutputSpec",
    "WindowPrediction",
    "family_config_class",
    "list_families",
    "register_family",
    "segmenter_class",
    "unregister_family",
]
