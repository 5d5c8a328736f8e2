"""The ``pix2seq`` family: token models that write a window's mask as RLE tokens (the paper's P2S-SEG).

Training is teacher-forced with the weighted token loss; prediction generates tokens (constrained by the
tokenizer's grammar) and decodes them at the tokenizer's mask size S. Checkpoints carry the full config, the
tokenizer (options and vocabulary) and the class names, so a model always decodes with the tokenizer it was
trained with; checkpoints written before model families existed (``Pix2SeqTask``) load unchanged.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from rleseg.config import Config
from rleseg.data.weights import token_weights
from rleseg.inference.generate import SamplingConfig, generate, generate_runs, sequence_lengths
from rleseg.models import build_model
from rleseg.models.multihead import MultiHeadPix2Seq, tokens_to_runs
from rleseg.segmenters.base import Segmenter
from rleseg.segmenters.losses import ce_dice_loss, pixel_counts, sqrt_inverse_weights
from rleseg.segmenters.spec import OutputSpec, WindowPrediction
from rleseg.segmenters.start_choice_record import CHOICE_KEY, samples_text, scores_text
from rleseg.segmenters.token_batch import collate_tokens
from rleseg.tokenizers import Tokenizer, Vocab, create_tokenizer, tokenizer_class
from rleseg.tokenizers.batch import decode_batch
from rleseg.tokenizers.grammar import Grammar, make_grammar


def weighted_token_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum(w * CE) / sum(w)`` over targets ``(B, ...)`` with logits ``(B, ..., V)``."""
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), reduction="none")
    ce = ce.view_as(weights)
    return (ce * weights).sum() / weights.sum().clamp(min=1e-6)


def dense_loss(dense: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Cross-entropy + soft Dice of per-pixel logits ``(B, K, S_h, S_w)`` (clips: ``(B, n, K, S_h, S_w)``,
    ``n`` the frames the model saw) against the window masks at S ``(B, S_h, S_w)`` / ``(B, N, S_h, S_w)``."""
    target = mask.long()
    if dense.dim() == 5:
        dense, target = dense.flatten(0, 1), target[:, : dense.shape[1]].flatten(0, 1)
    return ce_dice_loss(dense, target)[0]


def _option_default(key: str) -> Any:
    """The option values that mean "not set" for schemes without that option."""
    return {"order": "row", "starts": "1d", "classes": "token", "run_order": "raster"}.get(key)


def build_tokenizer(cfg: Config, num_classes: int) -> Tokenizer:
    """The tokenizer of ``cfg.tokenizer``; ``num_classes`` fills in an unset class count."""
    t = cfg.tokenizer
    kwargs: dict[str, Any] = {
        "mask_size": t.mask_size,
        "num_classes": t.num_classes or num_classes,
        "max_len": t.max_len,
    }
    params = inspect.signature(tokenizer_class(t.name).__init__).parameters
    for key in ("order", "starts", "num_frames", "classes", "run_order"):
        value = getattr(t, key)
        if value is None:
            continue
        if key in params:
            kwargs[key] = value
        elif value != _option_default(key):
            raise ValueError(f"tokenizer {t.name!r} has no option {key} (got {key}={value!r})")
    return create_tokenizer(t.name, **kwargs)


CLASS_VOTES = ("sqrt-inverse", "plain")  # generation.class_vote
FUSION_WORDS = {
    "concat": ", frames concatenated",
    "mean": ", frames averaged",
    "separate": ", one grid per frame",
    "per-frame": ", one sequence per frame",
}


def with_model_defaults_of_old_checkpoints(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a :class:`Config` dict) with the model options of checkpoints written before they existed.

    ``frame_fusion`` came on 2026-12-01 with ``"concat"`` as its default; a config dict without it (a checkpoint
    written before) gets ``"mean"``, the behaviour it was trained with. Returns a copy; ``config`` is unchanged.
    """
    model = dict(config.get("model") or {})
    legacy = "pix2seq" not in model and "family" not in model  # Pix2Seq options at the top of ``model``
    options = model if legacy else dict(model.get("pix2seq") or {})
    if "frame_fusion" in options:
        return config
    options["frame_fusion"] = "mean"
    if not legacy:
        model["pix2seq"] = options
    return {**config, "model": model}


def check_class_vote(value: str) -> None:
    """ValueError unless ``value`` is a known ``generation.class_vote``."""
    if value not in CLASS_VOTES:
        raise ValueError(f"generation.class_vote: expected one of {', '.join(CLASS_VOTES)}, got {value!r}")


class Pix2SeqSegmenter(Segmenter):
    """A :class:`~rleseg.models.Pix2SeqModel` (or its multi-headed variant) for one tokenizer."""

    family = "pix2seq"
    # overlapping windows: foreground where at least half of them say so (a plain vote's ties drop objects)
    default_merge: ClassVar[str] = "fg-vote"

    def __init__(
        self, config: dict[str, Any], tokenizer: dict[str, Any], class_names: list[str], vocab: dict[str, Any]
    ) -> None:
        config = with_model_defaults_of_old_checkpoints(config)  # saved below as the model was built
        super().__init__(config, class_names)
        self.save_hyperparameters()
        self.tok: Tokenizer = create_tokenizer(**tokenizer)
        if self.tok.vocab != Vocab.from_dict(vocab):
            raise ValueError("checkpoint vocabulary differs from the one its tokenizer builds; refusing to decode")
        if len(class_names) - 1 > self.tok.num_classes:
            raise ValueError(
                f"{len(class_names) - 1} classes {class_names[1:]}, but tokenizer {self.tok.name} was built for "
                f"num_classes={self.tok.num_classes}"
            )
        self.model = build_model(self.tok, self.cfg.model.pix2seq)
        self._grammar: Grammar | None = None
        check_class_vote(self.cfg.generation.class_vote)
        self._sampling()  # bad generation settings are refused here, before any training
        # training pixels of each class (at S) seen so far: the weights of fg-vote's class votes; in checkpoints
        self.register_buffer("class_pixels", torch.zeros(len(self.class_names), dtype=torch.int64))
        self.start_choice: dict[str, Any] | None = None  # the record of a choice on validation (from_checkpoint)

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> Pix2SeqSegmenter:
        """Rebuild from a loaded checkpoint; one written before ``class_pixels`` existed votes without weights. The
        record of an ``earliest_start`` chosen on validation, if any, is kept in ``start_choice``."""
        model = cls(**checkpoint["hyper_parameters"])
        state = {"state_dict": dict(checkpoint["state_dict"])}  # the caller's dict stays as it was
        model.on_load_checkpoint(state)
        model.load_state_dict(state["state_dict"])
        model.start_choice = checkpoint.get(CHOICE_KEY)
        return model

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """A checkpoint written before ``class_pixels`` existed gets zero counts (equal votes; when training
        resumes, counting starts there)."""
        checkpoint["state_dict"].setdefault("class_pixels", torch.zeros_like(self.class_pixels))

    def vote_weights(self) -> np.ndarray | None:
        """``1 / sqrt`` of each class's pixel frequency in the training windows (mean 1 over the classes seen),
        with ``generation.class_vote: sqrt-inverse``; None (equal votes) with ``plain`` or before training."""
        if self.cfg.generation.class_vote == "plain" or not bool(self.class_pixels.any()):
            return None
        return sqrt_inverse_weights(self.class_pixels.cpu()).numpy()

    @classmethod
    def create(cls, cfg: Config, class_names: list[str]) -> Pix2SeqSegmenter:
        """A new model for ``cfg`` with the tokenizer ``cfg.tokenizer`` describes."""
        return cls.from_tokenizer(cfg, build_tokenizer(cfg, len(class_names) - 1), class_names)

    @classmethod
    def from_tokenizer(cls, cfg: Config, tok: Tokenizer, class_names: list[str]) -> Pix2SeqSegmenter:
        """A new model for ``cfg`` with an already built tokenizer ``tok``."""
        return cls(cfg.to_dict(), tok.to_dict(), list(class_names), tok.vocab.to_dict())

    @classmethod
    def takes_clips(cls, cfg: Config) -> bool:
        """True for the video schemes (3d-c, 3d-f, tac, ltac)."""
        return bool(tokenizer_class(cfg.tokenizer.name).is_video)

    @property
    def spec(self) -> OutputSpec:
        video = len(self.tok.mask_shape) == 3
        return OutputSpec(
            mask_size=(int(self.tok.height), int(self.tok.width)),
            num_frames=int(self.tok.num_frames) if video else None,
            class_names=tuple(self.class_names),
            instance_aware=bool(self.tok.instance_aware),
        )

    @property
    def tokenizer(self) -> Tokenizer:
        return self.tok

    @property
    def sequence_tokenizer(self) -> Tokenizer:
        """The scheme of the sequences the decoder writes: :attr:`tokenizer`, or for a clip model with one
        sequence per frame, its frame scheme (:func:`~rleseg.tokenizers.frame_scheme.frame_tokenizer`)."""
        return self.model.sequence_tokenizer

    @property
    def frames_per_sequence_batch(self) -> int | None:
        """N when the model writes each of a clip's N frames as its own sequence, else None."""
        return int(self.tok.num_frames) if self.model.per_frame_sequences else None

    def describe(self) -> list[tuple[str, str]]:
        m, tok = self.cfg.model.pix2seq, self.tok
        frames = f", N={tok.num_frames}" if len(tok.mask_shape) == 3 else ""
        fine = ""
        if m.fine_level is not None and self.model.backbone.fine_stride is not None:
            uses = [name for name, on in (("start pointer", m.pointer_starts), ("fine memory", m.fine_memory)) if on]
            uses += ["dense loss"] if m.dense_loss_weight else []
            fine = f"; {' + '.join(uses)} on stride-{self.model.backbone.fine_stride} features"
            if frames and not m.static_input:
                fine += FUSION_WORDS[m.frame_fusion]
            if m.frame_neighbours:
                fine += f", reading the other frames within {m.frame_neighbours}x{m.frame_neighbours} cells"
        if m.frame_attention_bias is not None:
            fine += f"; attention across frames biased (learned, from {m.frame_attention_bias:g}"
            fine += self._learned_frame_bias(m.frame_attention_bias) + ")"
        facts = [
            ("model", f"pix2seq: {m.backbone}, {m.encoder_layers}+{m.decoder_layers} layers, dim {m.dim}{fine}"),
            ("tokenizer", f"{tok.name}, S={tok.height}x{tok.width}, L={tok.max_len}{frames}"),
        ]
        if self.cfg.generation.earliest_start is not None:
            f = self.cfg.generation.earliest_start
            decoding = f"greedy; the earliest start at least {f:g}x as likely as the best start"
            facts.append(("decoding", decoding + self._start_choice_words(f)))
        return facts

    def _start_choice_words(self, fraction: float) -> str:
        """Where ``fraction`` came from when the checkpoint chose one on validation after training (empty
        otherwise), e.g. ``" (chosen on 6 validation samples after training; class-agnostic Dice %: ...)"``."""
        record = self.start_choice
        if record is None:
            return ""
        if record["chosen"] != fraction:
            return f" (set here; validation after training chose {record['chosen']:g})"
        return f" (chosen on {samples_text(record)} after training; class-agnostic Dice %: {scores_text(record)})"

    def _learned_frame_bias(self, init: float) -> str:
        """Where training took the frame biases, e.g. ``"; now -4.1 to -3.9: ..."`` (empty while they are still at
        ``init``): how much the model has learned to read the clip's other frames."""
        if self.model.frame_bias is None:
            return ""
        lo, hi = self.model.frame_bias.learned_range()
        if max(abs(lo - init), abs(hi - init)) < 0.05:
            return ""
        if hi < 0:  # as a share, e.g. "1.6-1.9% of"
            share = f"{100 * math.exp(lo):.2g}" + ("" if hi - lo < 0.05 else f"-{100 * math.exp(hi):.2g}") + "% of"
        else:  # some head weighs another frame at least as much as its own: as factors, e.g. "0.0018x to 60x"
            share = f"{math.exp(lo):.2g}x" + ("" if hi - lo < 0.05 else f" to {math.exp(hi):.2g}x")
        return f"; now {lo:.1f} to {hi:.1f}: another frame's features weigh {share} the frame's own at equal score"

    def collate(self) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
        d = self.cfg.data
        return partial(
            collate_tokens,
            tok=self.sequence_tokenizer,
            eos_weight=d.eos_weight,
            class_weight=d.class_weight,
            frames=self.frames_per_sequence_batch,
        )

    def parameter_groups(self) -> list[dict[str, Any]]:
        """The backbone at ``train.backbone_lr`` (default ``train.lr``), the attention biases across frames at
        ``model.pix2seq.frame_attention_bias_lr`` without weight decay (when set), the rest at ``train.lr``."""
        t, m = self.cfg.train, self.cfg.model.pix2seq
        backbone = [p for p in self.model.backbone.parameters() if p.requires_grad]
        frame_bias = self.model.frame_bias
        biases = [] if frame_bias is None or m.frame_attention_bias_lr is None else list(frame_bias.parameters())
        apart = {id(p) for p in backbone + biases}
        rest = [p for p in self.model.parameters() if p.requires_grad and id(p) not in apart]
        groups: list[dict[str, Any]] = [{"params": rest, "lr": t.lr}]
        if backbone:
            groups.append({"params": backbone, "lr": t.backbone_lr or t.lr})
        if biases:
            groups.append({"params": biases, "lr": m.frame_attention_bias_lr, "weight_decay": 0.0})
        return groups

    def setting_warnings(self) -> list[str]:
        """A clip model whose attention biases across frames learn at ``train.lr`` (no
        ``model.pix2seq.frame_attention_bias_lr``): Adam moves a parameter by about its rate per step, too little
        for the biases to learn within a short run."""
        m, lr = self.cfg.model.pix2seq, self.cfg.train.lr
        if self.model.frame_bias is None or m.frame_attention_bias_lr is not None:
            return []
        return [
            f"model.pix2seq.frame_attention_bias={m.frame_attention_bias} without frame_attention_bias_lr: the "
            f"biases learn at train.lr ({lr:g}), and Adam moves a parameter by about its rate per step (at most "
            f"~{1000 * lr:g} in 1,000 steps), so they stay near where they start; set "
            "model.pix2seq.frame_attention_bias_lr (configs/demo-video.yaml: 0.02) to let the model learn how much "
            "to look across frames"
        ]

    # ----- training -----------------------------------------------------------------------------------
    def forward(self, images: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, L, V)``."""
        return self.model(images, inputs)

    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Weighted token loss and token accuracy (run-level for the multi-headed decoder), plus
        ``dense_loss_weight`` times the per-pixel loss on the fine features when that weight is set; a clip model
        with attention biases across frames also logs the largest bias (``frame_bias_max``)."""
        dense: torch.Tensor | None = None
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
            if self.cfg.model.pix2seq.dense_loss_weight > 0:
                logits, dense = self.model.forward_dense(batch["image"], batch["inputs"])
            else:
                logits = self.model(batch["image"], batch["inputs"])
        if self.training and "mask" in batch:
            with torch.no_grad():
                self.class_pixels += pixel_counts(batch["mask"].long(), len(self.class_names)).to(self.class_pixels)
        loss = weighted_token_loss(logits, targets, weights)
        real = weights > 0
        acc = ((logits.argmax(-1) == targets) & real).sum() / real.sum().clamp(min=1)
        logs = {"token_acc": acc}
        if dense is not None:
            logs["dense_loss"] = dense_loss(dense, batch["mask"])
            loss = loss + self.cfg.model.pix2seq.dense_loss_weight * logs["dense_loss"]
        if self.model.frame_bias is not None:  # how far the model has learned to look across frames (curves)
            logs["frame_bias_max"] = self.model.frame_bias.values().max()
        return loss, logs

    # ----- generation ---------------------------------------------------------------------------------
    @property
    def grammar(self) -> Grammar | None:
        """The constrained-decoding grammar (None when generation is unconstrained)."""
        if not self.cfg.generation.constrained:
            return None
        if self._grammar is None or self._grammar.device != self.device:
            tok = self.sequence_tokenizer
            self._grammar = make_grammar(tok, max_len=tok.max_len, device=self.device)
        return self._grammar

    def generate_tokens(self, images: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
        """Generated tokens ``(B, T)`` for images or clips (``(B * N, T)`` with one sequence per frame), with
        the config's sampling and grammar."""
        sampling = self._sampling()
        budget = max_len or self.sequence_tokenizer.max_len or self.cfg.tokenizer.max_len
        if isinstance(self.model, MultiHeadPix2Seq):
            return generate_runs(self.model, images, budget, grammar=self.grammar, sampling=sampling)
        return generate(self.model, images, budget, grammar=self.grammar, sampling=sampling)

    def _sampling(self) -> SamplingConfig:
        """The config's ``generation`` settings as a :class:`SamplingConfig` (ValueError on a bad one)."""
        g = self.cfg.generation
        return SamplingConfig(
            greedy=g.greedy,
            temperature=g.temperature,
            top_p=g.top_p,
            earliest_start=g.earliest_start,
            start_range=self._start_range() if g.earliest_start is not None else None,
        )

    def set_earliest_start(self, fraction: float | None) -> None:
        """Generate with ``generation.earliest_start = fraction`` from now on (None: off); ValueError, with the
        settings unchanged, when the scheme has no start tokens or the other generation settings forbid it."""
        g = self.cfg.generation
        before, g.earliest_start = g.earliest_start, fraction
        try:
            self._sampling()
        except ValueError:
            g.earliest_start = before
            raise

    def _start_range(self) -> tuple[int, int]:
        """Token ids ``[first, stop)`` of the sequence scheme's start tokens (for ``generation.earliest_start``);
        ValueError naming the scheme when its runs do not begin with one start token."""
        tok = self.sequence_tokenizer
        if "starts" not in [r.name for r in tok.vocab]:
            raise ValueError(
                f"generation.earliest_start={self.cfg.generation.earliest_start} picks among start tokens, but "
                f"tokenizer {tok.name} has no 'starts' range (its ranges: {[r.name for r in tok.vocab][3:]}); "
                "set generation.earliest_start to null"
            )
        starts = tok.vocab["starts"]
        return starts.start, starts.stop

    def predict_windows(self, images: torch.Tensor, previous: WindowPrediction | None = None) -> WindowPrediction:
        """Generate and decode: masks at S, instances for instance-aware schemes, ``extras["lengths"]`` (for
        one sequence per frame: the length of the clip sequence the frames' runs make, one EOS)."""
        tokens = self.generate_tokens(images)
        lengths = sequence_lengths(tokens)
        decoded = decode_batch(self.sequence_tokenizer, tokens)
        n = self.frames_per_sequence_batch
        if n is not None:  # (B * N, ...) frame after frame -> clips
            decoded = decoded.view(-1, n, *decoded.shape[1:])
            lengths = lengths.view(-1, n).sum(1) - (n - 1)
        if self.tok.instance_aware:
            return WindowPrediction(decoded[0], decoded[1], {"lengths": lengths})
        return WindowPrediction(decoded, None, {"lengths": lengths})
