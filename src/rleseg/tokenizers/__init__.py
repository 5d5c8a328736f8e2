"""Mask <-> token sequences: every run-length tokenization scheme of rleseg.

>>> from rleseg.tokenizers import create_tokenizer
>>> tok = create_tokenizer("lac", mask_size=80, num_classes=2)
"""

from rleseg.tokenizers import cumulative as _cumulative
from rleseg.tokenizers import flat as _flat
from rleseg.tokenizers import grouped as _grouped
from rleseg.tokenizers.base import DecodeInfo, EncodeInfo, Tokenizer
from rleseg.tokenizers.registry import create_tokenizer, list_tokenizers, register, tokenizer_class
from rleseg.tokenizers.vocab import EOS, PAD, PROMPT, TokenRange, Vocab

for _cls in (
    _flat.BinaryTokenizer,
    _flat.MulticlassTokenizer,
    _flat.LACTokenizer,
    _flat.Video3DCTokenizer,
    _flat.Video3DFTokenizer,
    _flat.TACTokenizer,
    _flat.LTACTokenizer,
    _grouped.ClassWiseTokenizer,
    _grouped.InstanceWiseTokenizer,
    _cumulative.BACTokenizer,
    _cumulative.DiffTokenizer,
):
    register(_cls)

__all__ = [
    "EOS",
    "PAD",
    "PROMPT",
    "DecodeInfo",
    "EncodeInfo",
    "TokenRange",
    "Tokenizer",
    "Vocab",
    "create_tokenizer",
    "list_tokenizers",
    "register",
    "tokenizer_class",
]
