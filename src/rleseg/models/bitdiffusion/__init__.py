"""Bit diffusion of panoptic masks (Pix2Seq-D): analog bits, the cosine schedule and DDIM sampling, the image
encoder and the mask decoder, training targets and post-processing. The ``pix2seq-d`` family
(:mod:`rleseg.segmenters.pix2seq_d`) assembles them."""

from __future__ import annotations

from rleseg.models.bitdiffusion.bits import BitLayout, bits_to_int, decode_panoptic, encode_panoptic, int_to_bits
from rleseg.models.bitdiffusion.schedule import add_noise, ddim_sample, ddim_step, gamma_cosine, step_times

__all__ = [
    "BitLayout",
    "add_noise",
    "bits_to_int",
    "ddim_sample",
    "ddim_step",
    "decode_panoptic",
    "encode_panoptic",
    "gamma_cosine",
    "int_to_bits",
    "step_times",
]
