"""Mask2Former parts around Hugging Face ``transformers``' implementation: building the model offline on a timm
backbone (``build``), training targets from a window's labels (``targets``) and semantic and panoptic inference
cropped to the window (``inference``). The ``mask2former`` family (:mod:`rleseg.segmenters.mask2former`)
assembles them."""
