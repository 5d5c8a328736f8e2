"""rleseg: segmentation as language modelling over run-length-encoded mask tokens."""

__version__ = "0.1.0"
