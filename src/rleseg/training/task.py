"""The Lightning task: teacher-forced training with weighted token loss, generation-based validation.

Checkpoints carry the full config, the tokenizer (options and vocabulary) and the class names, so
``Pix2SeqTask.load_from_checkpoint(path)`` rebuilds a model that decodes with the tokenizer it was trained
with.
"""

from __future__ import annotations

from typing import Any, cast

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from rleseg.config import Config, from_dict
from rleseg.data.weights import token_weights
from rleseg.inference.generate import SamplingConfig, generate, generate_runs, sequence_lengths
from rleseg.metrics.confusion import ConfusionMatrix, segmentation_metrics
from rleseg.models import build_model
from rleseg.models.multihead import MultiHeadPix2Seq, tokens_to_runs
from rleseg.tokenizers import Tokenizer, Vocab, create_tokenizer
from rleseg.tokenizers.batch import decode_batch
from rleseg.tokenizers.grammar import Grammar, make_grammar
from rleseg.tokenizers.resolution import resize_nearest
from rleseg.training.schedule import warmup_linear_decay


def weighted_token_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum(w * CE) / sum(w)`` over targets ``(B, ...)`` with logits ``(B, ..., V)``."""
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), reduction="none")
    ce = ce.view_as(weights)
    return (ce * weights).sum() / weights.sum().clamp(min=1e-6)


class Pix2SeqTask(L.LightningModule):
    """Train and validate a :class:`Pix2SeqModel` for one tokenizer."""

    def __init__(
        self, config: dict[str, Any], tokenizer: dict[str, Any], class_names: list[str], vocab: dict[str, Any]
    ):
        super().__init__()
        self.save_hyperparameters()
        self.cfg: Config = from_dict(Config, config)
        self.tok: Tokenizer = create_tokenizer(**tokenizer)
        if self.tok.vocab != Vocab.from_dict(vocab):
            raise ValueError("checkpoint vocabulary differs from the one its tokenizer builds; refusing to decode")
        self.class_names = list(class_names)
        self.model = build_model(self.tok, self.cfg.model)
        self._grammar: Grammar | None = None
        self._cm: ConfusionMatrix | None = None

    @classmethod
    def create(cls, cfg: Config, tok: Tokenizer, class_names: list[str]) -> Pix2SeqTask:
        """A new task for ``cfg`` and ``tok``."""
        return cls(cfg.to_dict(), tok.to_dict(), list(class_names), tok.vocab.to_dict())

    # ----- training -----------------------------------------------------------------------------------
    def forward(self, images: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, L, V)``."""
        return self.model(images, inputs)

    def _loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Weighted token loss and token accuracy of a batch (run-level for the multi-headed decoder)."""
        if isinstance(self.model, MultiHeadPix2Seq):
            targets = tokens_to_runs(batch["targets"], self.model.k)
            b = targets.shape[0]
            weights = token_weights(
                self.tok,
                targets.view(b, -1),
                eos_weight=self.cfg.data.eos_weight,
                class_weight=self.cfg.data.class_weight,
            ).view_as(targets)
            logits = self.model.forward_runs(batch["image"], targets)
        else:
            targets, weights = batch["targets"], batch["weights"]
            logits = self.model(batch["image"], batch["inputs"])
        loss = weighted_token_loss(logits, targets, weights)
        real = weights > 0
        acc = ((logits.argmax(-1) == targets) & real).sum() / real.sum().clamp(min=1)
        return loss, acc

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss, acc = self._loss(batch)
        bs = batch["targets"].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        self.log("train/token_acc", acc, prog_bar=True, batch_size=bs)
        return loss

    def configure_optimizers(self) -> Any:
        t = self.cfg.train
        backbone = [p for p in self.model.backbone.parameters() if p.requires_grad]
        backbone_ids = {id(p) for p in backbone}
        rest = [p for p in self.model.parameters() if p.requires_grad and id(p) not in backbone_ids]
        groups = [{"params": rest, "lr": t.lr}]
        if backbone:
            groups.append({"params": backbone, "lr": t.backbone_lr or t.lr})
        opt = torch.optim.AdamW(groups, lr=t.lr, weight_decay=t.weight_decay)
        total = int(self.trainer.estimated_stepping_batches) if self._trainer is not None else 1000
        sched = warmup_linear_decay(opt, total, int(total * t.warmup_fraction))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # ----- generation and validation ------------------------------------------------------------------
    @property
    def grammar(self) -> Grammar | None:
        """The constrained-decoding grammar (None when generation is unconstrained)."""
        if not self.cfg.generation.constrained:
            return None
        if self._grammar is None or self._grammar.device != self.device:
            self._grammar = make_grammar(self.tok, max_len=self.tok.max_len, device=self.device)
        return self._grammar

    def generate_tokens(self, images: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
        """Generated tokens ``(B, T)`` for images or clips, with the config's sampling and grammar."""
        g = self.cfg.generation
        sampling = SamplingConfig(greedy=g.greedy, temperature=g.temperature, top_p=g.top_p)
        budget = max_len or self.tok.max_len or self.cfg.tokenizer.max_len
        if isinstance(self.model, MultiHeadPix2Seq):
            return generate_runs(self.model, images, budget, grammar=self.grammar, sampling=sampling)
        return generate(self.model, images, budget, grammar=self.grammar, sampling=sampling)

    def predict_masks(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Class masks at the tokenizer's size ``(B, *mask_shape)`` and instances (``iw`` only) or None."""
        masks, inst, _ = self.predict_masks_with_lengths(images)
        return masks, inst

    def predict_masks_with_lengths(
        self, images: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Like :meth:`predict_masks`, plus each generated sequence's length ``(B,)`` (EOS included)."""
        tokens = self.generate_tokens(images)
        lengths = sequence_lengths(tokens)
        decoded = decode_batch(self.tok, tokens)
        if self.tok.instance_aware:
            return decoded[0], decoded[1], lengths
        return decoded, None, lengths

    def on_validation_epoch_start(self) -> None:
        self._cm = ConfusionMatrix(len(self.class_names) - 1)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        loss, acc = self._loss(batch)
        bs = batch["targets"].shape[0]
        self.log("val/loss", loss, prog_bar=True, batch_size=bs, sync_dist=True)
        self.log("val/token_acc", acc, batch_size=bs, sync_dist=True)
        limit = self.cfg.train.val_max_batches
        if limit is not None and batch_idx >= limit:
            return
        masks, _ = self.predict_masks(batch["image"])
        full = batch["mask_full"].cpu().numpy()
        pred = resize_nearest(masks.cpu().numpy(), full.shape[-2:])
        assert self._cm is not None
        self._cm.update(full, pred)

    def on_validation_epoch_end(self) -> None:
        if self._cm is None or self._cm.matrix.sum() == 0:
            return
        cm = torch.as_tensor(self._cm.matrix, device=self.device, dtype=torch.float64)
        if self.trainer.world_size > 1:
            cm = cast(torch.Tensor, self.all_gather(cm)).sum(0)
        metrics = segmentation_metrics(cm.cpu().numpy().astype(np.int64), self.class_names[1:])
        self.log("val/dice", _num(metrics["dice"]), prog_bar=True)
        self.log("val/dice_agnostic", _num(metrics["agnostic"]["dice"]))
        self.log("val/miou", _num(metrics["miou"]))
        self.log("val/pix_acc", _num(metrics["pix_acc"]))
        self.last_val_metrics = metrics


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)
