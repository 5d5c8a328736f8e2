"""Models: timm backbone, transformer encoder, autoregressive decoder and the Pix2Seq model."""
