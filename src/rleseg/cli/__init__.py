"""The ``rleseg`` command (typer + rich): this module only parses options; the work lives in :mod:`rleseg.commands`.

``rleseg data synth``      writes the embedded synthetic cells (images or videos) to disk.
``rleseg data check DIR``  validates a dataset and summarises it (sizes, class shares, sequence lengths).
``rleseg train CONFIG``    trains a model from a YAML config with ``key=value`` overrides.
``rleseg predict CKPT IN``  full-size masks, instance masks and colour overlays for images and videos.
``rleseg evaluate CKPT DATA --out DIR`` predicts a dataset, scores it, writes metrics.json and report.html;
                           ``--pred DIR --gt DIR`` scores masks already on disk (PQ with instances).
``rleseg compare A.yaml B.ckpt --data DIR --out OUT`` trains configs / takes checkpoints, evaluates all on one
                           split: comparison.json, comparison.html and a table of relative changes (Table 2).
``rleseg demo``            trains on synthetic cells, evaluates on held-out images, writes results/demo;
                           ``--video``: a video model on synthetic cell videos (results/demo-video);
                           ``--tokenizers``: tokenizes synthetic masks with every scheme, checks the round trip.
``rleseg stats MASKS...``  sequence-length statistics (paper Tables 3-6) and the metric loss caused by
                           subsampling (Table 11) over PNG label masks, printed and written as CSV + JSON.
``rleseg vocab``           vocabulary sizes by token range for given S, C, N (Tables 7-10); no data needed.
``rleseg viz tokenize``    animated GIF + PNG strip of a mask tokenized run by run, for any scheme.
``rleseg viz curves RUN``  loss, token accuracy and validation metrics of a training run, as a PNG.
``rleseg flops CONFIG --size H W`` GFLOPs of a config's network per component (backbone, pixel decoder, ...).

Run ``rleseg COMMAND --help`` for the options; ``python -m rleseg`` works too.
"""

from __future__ import annotations

from rleseg.cli import data, flops, model, tables, viz  # noqa: F401  (each registers its commands on the app)
from rleseg.cli.app import app


def main() -> None:
    """Console entry point ``rleseg``."""
    app(prog_name="rleseg")


__all__ = ["app", "main"]
