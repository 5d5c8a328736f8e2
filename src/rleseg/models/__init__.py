"""Models: timm backbone, transformer encoder, autoregressive decoder and the Pix2Seq model."""

from __future__ import annotations

from rleseg.models.multihead import MultiHeadPix2Seq
from rleseg.models.pix2seq import ModelConfig, Pix2SeqModel
from rleseg.tokenizers.base import Tokenizer


def build_model(tok: Tokenizer, cfg: ModelConfig | None = None) -> Pix2SeqModel:
    """The model ``cfg`` asks for: :class:`MultiHeadPix2Seq` with ``multi_head``, else :class:`Pix2SeqModel`."""
    cfg = cfg or ModelConfig()
    return MultiHeadPix2Seq(tok, cfg) if cfg.multi_head else Pix2SeqModel(tok, cfg)


__all__ = ["ModelConfig", "MultiHeadPix2Seq", "Pix2SeqModel", "build_model"]
