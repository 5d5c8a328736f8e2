"""The multi-headed decoder of the paper's section VI (Fig. 19): one decoder position per run.

For schemes whose runs are fixed tuples of k tokens (binary, multiclass, lac, 3d-c, 3d-f, tac, ltac), the
decoder reads and writes whole runs: the input at run position r is the sum of the embeddings of run r-1's
k tokens (each plus an embedding of its place in the tuple), and k output heads emit the k tokens of run r.
The sequence the decoder sees is k times shorter, which cuts attention cost and memory accordingly. EOS is
emitted by head 0 at the position after the last run.
"""

from __future__ import annotations

import torch
from torch import nn

from rleseg.models.pix2seq import ModelConfig, Pix2SeqModel
from rleseg.models.position import sine_1d
from rleseg.tokenizers.base import Tokenizer
from rleseg.tokenizers.flat import FlatRLETokenizer
from rleseg.tokenizers.vocab import EOS, PAD, PROMPT


def tokens_to_runs(targets: torch.Tensor, k: int) -> torch.Tensor:
    """Flat targets ``(B, L)`` (runs of k tokens, EOS, PAD) -> run targets ``(B, R + 1, k)``.

    Row ``count`` of each sequence is ``[EOS, PAD, ...]``; rows after it are PAD.
    """
    b = targets.shape[0]
    lengths = (targets != PAD).sum(1)
    counts = torch.div(lengths - 1, k, rounding_mode="floor").clamp(min=0)
    r = int(counts.max()) if b else 0
    body = torch.full((b, r * k), PAD, dtype=targets.dtype, device=targets.device)
    width = min(r * k, targets.shape[1])
    body[:, :width] = targets[:, :width]
    runs = torch.full((b, r + 1, k), PAD, dtype=targets.dtype, device=targets.device)
    runs[:, :r] = body.view(b, r, k)
    rows = torch.arange(r + 1, device=targets.device)[None, :]
    runs[rows.expand(b, -1) >= counts[:, None]] = PAD
    runs[torch.arange(b, device=targets.device), counts, 0] = EOS
    return runs


def runs_to_tokens(runs: torch.Tensor) -> torch.Tensor:
    """Run tokens ``(B, R, k)`` -> flat sequences ``(B, R * k)``; PAD after a sequence's EOS stays PAD."""
    return runs.reshape(runs.shape[0], -1)


class MultiHeadPix2Seq(Pix2SeqModel):
    """:class:`Pix2SeqModel` whose decoder works on whole runs with one output head per run component."""

    def __init__(self, tok: Tokenizer, cfg: ModelConfig | None = None) -> None:
        if not isinstance(tok, FlatRLETokenizer):
            raise ValueError(
                f"the multi-headed decoder needs runs of a fixed number of tokens (binary, multiclass, lac, "
                f"3d-c, 3d-f, tac, ltac); {tok.name} has variable structure"
            )
        if cfg is not None and cfg.fine_level is not None:
            raise ValueError(
                "the multi-headed decoder does not use fine features: unset fine_level (and pointer_starts)"
            )
        super().__init__(tok, cfg)
        self.k = tok.tokens_per_run
        self.component = nn.Embedding(self.k, self.cfg.dim)
        nn.init.normal_(self.component.weight, std=0.02)
        heads = [nn.Linear(self.cfg.dim, tok.vocab_size) for _ in range(self.k)]
        with torch.no_grad():
            for h in heads:
                h.weight.copy_(self.head.weight)
                h.bias.zero_()
        self.heads = nn.ModuleList(heads)
        del self.head  # replaced by one head per component

    def run_embeddings(self, runs: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Run tokens ``(B, T, k)`` -> decoder inputs ``(B, T, D)`` at positions ``offset ...``."""
        comp = self.component.weight[None, None]  # (1, 1, k, D)
        x = (self.embed(runs) + comp).sum(2)
        positions = torch.arange(offset, offset + runs.shape[1], device=runs.device)
        return x + sine_1d(positions, self.cfg.dim).to(x.dtype)

    def _prompt(self, batch: int, device: torch.device) -> torch.Tensor:
        prompt = self.embed(torch.full((batch, 1), PROMPT, device=device))
        return prompt + sine_1d(torch.zeros(1, device=device), self.cfg.dim).to(prompt.dtype)

    def decode_runs(self, runs: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: target runs ``(B, R + 1, k)`` -> logits ``(B, R + 1, k, V)``.

        Position 0 reads the prompt, position r the tokens of run r - 1.
        """
        b = runs.shape[0]
        x = torch.cat([self._prompt(b, runs.device), self.run_embeddings(runs[:, :-1], offset=1)], dim=1)
        for layer in self.decoder:
            x = layer(x, memory)
        h = self.decoder_norm(x)
        return torch.stack([head(h) for head in self.heads], dim=2)

    def forward_runs(self, images: torch.Tensor, runs: torch.Tensor) -> torch.Tensor:
        """``images`` and target runs ``(B, R + 1, k)`` -> logits ``(B, R + 1, k, V)``."""
        return self.decode_runs(runs, self.encode(images))

    def run_step(
        self,
        prev_run: torch.Tensor | None,
        memory: torch.Tensor,
        cache: list[dict[str, dict[str, torch.Tensor]]],
        offset: int,
    ) -> torch.Tensor:
        """One cached decoder step: the previous run ``(B, k)`` (None at the start) -> hidden ``(B, D)``."""
        if prev_run is None:
            x = self._prompt(memory.shape[0], memory.device)
        else:
            x = self.run_embeddings(prev_run[:, None], offset=offset)
        for layer, layer_cache in zip(self.decoder, cache, strict=True):
            x = layer(x, memory, cache=layer_cache)
        return self.decoder_norm(x)[:, -1]

    def decode(self, inputs: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Not available: this model reads runs, not tokens (use :meth:`decode_runs`)."""
        raise TypeError("MultiHeadPix2Seq decodes whole runs: use decode_runs / forward_runs")
