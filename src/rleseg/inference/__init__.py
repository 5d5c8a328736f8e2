"""Inference: token generation (sampling, constrained decoding) and stitching of window predictions."""
