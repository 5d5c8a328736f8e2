"""Registry of tokenization schemes: ``create_tokenizer(name, **kw)`` and ``list_tokenizers()``."""

from __future__ import annotations

from typing import Any

from rleseg.tokenizers.base import Tokenizer

_REGISTRY: dict[str, type[Tokenizer]] = {}


def register(cls: type[Tokenizer]) -> type[Tokenizer]:
    """Class decorator: make a scheme available under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"tokenizer name {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def list_tokenizers() -> list[str]:
    """Names of all registered schemes, in registration order."""
    return list(_REGISTRY)


def tokenizer_class(name: str) -> type[Tokenizer]:
    """The class registered under ``name``; ValueError listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown tokenizer {name!r}; known schemes: {', '.join(_REGISTRY)}") from None


def create_tokenizer(name: str, **kwargs: Any) -> Tokenizer:
    """Build the scheme ``name`` with its options, e.g. ``create_tokenizer("lac", mask_size=80, num_classes=2)``.

    Accepts the output of ``Tokenizer.to_dict()`` unchanged. Unknown options raise a ValueError.
    """
    cls = tokenizer_class(name)
    if isinstance(kwargs.get("mask_size"), list):
        kwargs["mask_size"] = tuple(kwargs["mask_size"])
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ValueError(f"bad options for tokenizer {name!r}: {err}") from None
