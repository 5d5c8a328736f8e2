"""Registry of model families: ``register_family``, ``segmenter_class(name)`` and ``family_config_class``.

A family is a :class:`~rleseg.segmenters.base.Segmenter` subclass plus the dataclass of its config section
(``model.<family>`` in a config file). The built-in families are imported on first use, so reading a config
never imports a model library; a plugin (or a test) registers its own with :func:`register_family`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rleseg.segmenters.base import Segmenter


@dataclass(frozen=True)
class _Entry:
    module: str  # where the segmenter class lives (imported on first use)
    attribute: str
    config: type  # the family's config dataclass


def _builtin() -> dict[str, _Entry]:
    from rleseg.models.pix2seq import ModelConfig
    from rleseg.segmenters.mask2former_config import Mask2FormerConfig
    from rleseg.segmenters.pix2seq_d_config import Pix2SeqDConfig
    from rleseg.segmenters.smp_config import SmpConfig

    return {
        "pix2seq": _Entry("rleseg.segmenters.pix2seq", "Pix2SeqSegmenter", ModelConfig),
        "smp": _Entry("rleseg.segmenters.smp", "SmpSegmenter", SmpConfig),
        "pix2seq-d": _Entry("rleseg.segmenters.pix2seq_d", "Pix2SeqDSegmenter", Pix2SeqDConfig),
        "mask2former": _Entry("rleseg.segmenters.mask2former", "Mask2FormerSegmenter", Mask2FormerConfig),
    }


_REGISTRY: dict[str, _Entry] = {}
_CLASSES: dict[str, type[Segmenter]] = {}


def _entries() -> dict[str, _Entry]:
    if not _REGISTRY:
        _REGISTRY.update(_builtin())
    return _REGISTRY


def register_family(name: str, cls: type[Segmenter], config: type) -> None:
    """Make ``cls`` (with its config dataclass ``config``, the ``model.<name>`` section) the family ``name``."""
    entries = _entries()
    if name in entries and _CLASSES.get(name) not in (None, cls):
        raise ValueError(f"model family {name!r} is registered twice")
    entries[name] = _Entry(cls.__module__, cls.__qualname__, config)
    _CLASSES[name] = cls
    cls.family = name


def unregister_family(name: str) -> None:
    """Forget a family registered with :func:`register_family` (the built-ins stay)."""
    if name in _builtin():
        raise ValueError(f"{name!r} is a built-in model family")
    _entries().pop(name, None)
    _CLASSES.pop(name, None)


def list_families() -> list[str]:
    """Names of the known families, built-ins first."""
    return list(_entries())


def _entry(name: str) -> _Entry:
    try:
        return _entries()[name]
    except KeyError:
        raise ValueError(f"unknown model family {name!r}; known families: {', '.join(_entries())}") from None


def family_config_class(name: str) -> type:
    """The config dataclass of family ``name`` (its ``model.<name>`` section); ValueError when unknown."""
    return _entry(name).config


def segmenter_class(name: str) -> type[Segmenter]:
    """The segmenter class of family ``name`` (imported on first use); ValueError when unknown."""
    if name not in _CLASSES:
        entry = _entry(name)
        cls: Any = getattr(importlib.import_module(entry.module), entry.attribute)
        cls.family = name
        _CLASSES[name] = cls
    return _CLASSES[name]
