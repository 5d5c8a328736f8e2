"""Typed configuration: dataclasses hold every default; YAML files and dotted ``key=value`` overrides go on top.

>>> cfg = load_config("configs/demo.yaml", ["train.max_epochs=3", "tokenizer.name=multiclass"])
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rleseg.models.pix2seq import ModelConfig
from rleseg.segmenters.mask2former_config import Mask2FormerConfig
from rleseg.segmenters.pix2seq_d_config import Pix2SeqDConfig
from rleseg.segmenters.smp_config import SmpConfig


@dataclass
class TokenizerConfig:
    """The tokenization scheme and its options (see ``rleseg.tokenizers.create_tokenizer``).

    ``num_classes``: None takes the dataset's class count; ``num_frames``: None keeps the scheme's default
    (1 for images, 2 for video schemes). ``max_len``: the token budget L (incl. EOS).
    """

    name: str = "lac"
    mask_size: int = 80
    num_classes: int | None = None
    order: str = "row"
    starts: str = "1d"
    num_frames: int | None = None
    classes: str = "token"
    run_order: str = "raster"
    max_len: int = 512


@dataclass
class AugmentSection:
    """Random augmentation of training windows: geometric, and colour jitter of the image (0 = off; see
    :class:`rleseg.data.transforms.AugmentConfig`)."""

    rot90: bool = True
    degrees: float = 0.0
    hflip: float = 0.5
    vflip: float = 0.5
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0


@dataclass
class DataSection:
    """Where the data comes from and how windows are cut (paper I, P, strides; N frames with stride T).

    ``source``: ``"synthetic-cells"``, ``"synthetic-cells-video"`` or a dataset path (any format that
    ``rleseg.data.formats.open_dataset`` detects, with ``train``/``val``/``test`` splits).
    ``synthetic_motion``: speed factor of the cells in ``synthetic-cells-video`` (1: the generator's default;
    0.2: about as slow as the paper's IPSC cells; :meth:`rleseg.data.synthetic.MotionParams.slowed`).
    ``synthetic_defocus``: probability that a cell of ``synthetic-cells-video`` is out of the focal plane in a
    frame (its contrast drops to 20-45%; a neighbouring frame usually shows it sharp). 0: never.
    ``eval_views``: test-time views per prediction window (1, 2, 4 or 8 flips and quarter turns, merged per
    pixel; :mod:`rleseg.inference.views`): each costs one more prediction of every window.
    ``val_stride``: stride of the validation windows scored during training (None: ``eval_stride``). Windows
    are scored one by one there, so overlap only repeats pixels; with ``train.val_max_batches`` a smaller
    stride also means the first batches cover fewer images (stride P: every validation image once).
    ``eval_batch_size``: windows (clips for video) per validation batch and, in ``rleseg demo``, per prediction
    pass with all their views (None: ``batch_size`` in validation, the predictor's default in the demo).
    """

    source: str = "synthetic-cells"
    format: str = "auto"
    train_split: str = "train"
    val_split: str = "val"
    test_split: str = "test"
    synthetic_size: int = 320
    synthetic_counts: list[int] = field(default_factory=lambda: [48, 12, 12])
    synthetic_frames: int = 8
    synthetic_motion: float = 1.0
    synthetic_defocus: float = 0.0
    image_size: int | None = None
    patch_size: int | None = 640
    train_stride: list[int] | None = None
    eval_stride: int | None = None
    val_stride: int | None = None
    eval_views: int = 1
    frame_stride: int = 1
    eval_frame_stride: int | None = None
    augment: AugmentSection = field(default_factory=AugmentSection)
    batch_size: int = 8
    eval_batch_size: int | None = None
    num_workers: int = 0
    eos_weight: float = 1.0
    class_weight: str = "equalize"


@dataclass
class TrainSection:
    """Optimisation and the Lightning trainer (accelerator, devices, strategy, precision).

    ``max_time_minutes``: a wall-clock budget that ends training and to which the learning-rate decay is
    fitted. ``max_epochs``: None (the default) sets no epoch limit under a time budget (so a small dataset
    trains for the whole budget) and 100 epochs without one; a number is always a limit, like ``max_steps``.
    ``val_every_n_steps``: validate (and save ``last.ckpt``) every N optimizer steps instead of every
    ``val_every_n_epochs`` epochs: for small datasets, where an epoch is a handful of steps and validating
    each few epochs would cost more than training.

    ``resume``: a checkpoint (e.g. ``<out_dir>/checkpoints/last.ckpt``) to continue training from.
    ``threads``: torch's intra-op CPU threads for training (None: torch's default, one per core). Training
    speed on a CPU depends on it; set it below the core count to leave cores to data loading or other work.
    ``frame_warmup``: for a clip model, the fraction of training (of the time budget, ``max_steps`` or the
    epochs, whichever ends training first) spent on clips whose N frames come from N different windows
    (:mod:`rleseg.data.mixed_clips`): ``batch_size`` clips a batch, as now, but N times as many scenes. The
    model learns the clip task from as many scenes as an image model sees, then from real clips how frames
    follow each other (0: off).
    ``checkpoint``: the checkpoint a run hands on (to ``rleseg demo``, ``rleseg compare``, the start choice):
    ``best`` (``best.ckpt``: the weights that scored best on validation, by the family's metric) or ``final``
    (no ``best.ckpt``; ``last.ckpt``, the final weights, trained at the end of the learning-rate decay). On a
    short budget validated on a few batches (``val_max_batches``), the best score is as much noise as skill:
    on the video demo's synthetic videos ``best.ckpt`` was an earlier step than the last in 8 of 10 runs, and
    the final weights scored higher in 7 of those 8 (docs/video-demo.md).
    """

    max_epochs: int | None = None
    max_steps: int = -1
    max_time_minutes: float | None = None
    lr: float = 3e-4
    backbone_lr: float | None = None
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    grad_clip: float = 1.0
    precision: str = "auto"
    accelerator: str = "auto"
    devices: str = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    val_every_n_epochs: int = 1
    val_every_n_steps: int | None = None
    val_max_batches: int | None = None
    log_every_n_steps: int = 10
    seed: int = 0
    out_dir: str = "runs/default"
    progress: bool = True
    resume: str | None = None
    threads: int | None = None
    frame_warmup: float = 0.0
    checkpoint: str = "best"

    def __post_init__(self) -> None:
        if self.checkpoint not in ("best", "final"):
            raise ValueError(f"train.checkpoint: expected 'best' or 'final', got {self.checkpoint!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"train.threads must be a positive thread count or null, got {self.threads}")
        if not 0.0 <= self.frame_warmup < 1.0:
            raise ValueError(f"train.frame_warmup must be a fraction of training in [0, 1), got {self.frame_warmup}")

    def epoch_limit(self) -> int:
        """The epoch limit in force: ``max_epochs``, else none (-1) under a time budget, else 100."""
        if self.max_epochs is not None:
            return self.max_epochs
        return -1 if self.max_time_minutes else 100


@dataclass
class GenerationSection:
    """How tokens are generated at validation and prediction time (paper: top-p 0.4 sampling).

    ``cleanup``: after prediction, close background gaps of up to this many pixels inside runs of one class
    (``rleseg.inference.cleanup.close_gaps``; 0: off). Used by the Predictor (``rleseg predict``), not by
    validation during training. ``class_vote``: how ``fg-vote`` picks the class of a foreground pixel from the
    votes of overlapping windows and test-time views: ``sqrt-inverse`` weighs each class's votes by
    1 / sqrt of its pixel frequency in the training windows (counted during training and kept in the
    checkpoint), so that a rare class found in fewer views is not outvoted by a common one; ``plain`` counts
    every vote alike. ``earliest_start`` (greedy decoding, schemes with one start token per run): when the most
    likely next token is a start, take the earliest start whose probability is at least this fraction of the
    most likely start's (:func:`rleseg.inference.generate.earliest_start`); a sequence's starts only increase,
    so a start chosen past a cell loses that cell. None: plain argmax. ``earliest_start_choices`` (e.g.
    ``[0.2, 0.35, 0.5, 1.0]``; 1: the most likely start): after training, predict the validation split with
    each and store the one with the best class-agnostic Dice in the best checkpoint as its ``earliest_start``
    (:mod:`rleseg.training.start_choice`; the best fraction moves with training). ``earliest_start`` is then
    what validation during training uses. None: no choice.
    """

    greedy: bool = True
    temperature: float = 1.0
    top_p: float | None = None
    constrained: bool = True
    cleanup: int = 0
    class_vote: str = "sqrt-inverse"
    earliest_start: float | None = None
    earliest_start_choices: list[float] | None = None


@dataclass
class ModelSection:
    """``model.family`` picks the model family; ``model.<family>`` holds that family's options.

    ``pix2seq`` (token models: :class:`ModelConfig`, with the ``tokenizer`` and ``generation`` sections),
    ``smp`` (per-pixel baselines: :class:`SmpConfig`), ``pix2seq-d`` (bit diffusion: :class:`Pix2SeqDConfig`
    in the field ``pix2seq_d``; files write ``model.pix2seq-d`` and ``model.pix2seq_d`` reads too) and
    ``mask2former`` (:class:`Mask2FormerConfig`) are built in;
    a family registered with :func:`rleseg.segmenters.register_family` gets its section in ``plugins``
    (written as ``model.<name>``). Configs written before families existed held the Pix2Seq options directly
    under ``model``; they still load (those keys go to ``model.pix2seq``).
    """

    family: str = "pix2seq"
    pix2seq: ModelConfig = field(default_factory=ModelConfig)
    smp: SmpConfig = field(default_factory=SmpConfig)
    pix2seq_d: Pix2SeqDConfig = field(default_factory=Pix2SeqDConfig)
    mask2former: Mask2FormerConfig = field(default_factory=Mask2FormerConfig)
    plugins: dict[str, Any] = field(default_factory=dict)

    def section(self, family: str | None = None) -> Any:
        """The config dataclass of ``family`` (default: the selected one)."""
        name = family or self.family
        if name in self.builtin_sections():
            return getattr(self, _field_of(name))
        if name not in self.plugins:
            from rleseg.segmenters.registry import family_config_class

            self.plugins[name] = family_config_class(name)()
        return self.plugins[name]

    @classmethod
    def builtin_sections(cls) -> tuple[str, ...]:
        """The families whose sections are fields of this class (``pix2seq``, ``smp``, ``pix2seq-d``: a field's
        underscores are a family name's hyphens)."""
        return tuple(f.name.replace("_", "-") for f in dataclasses.fields(cls) if f.name not in ("family", "plugins"))

    @classmethod
    def from_tree(cls, data: dict[str, Any], where: str = "model") -> ModelSection:
        """Build from a (partial) ``model`` mapping; legacy top-level Pix2Seq keys move to ``pix2seq``."""
        from rleseg.segmenters.registry import family_config_class, list_families

        data = dict(data)
        legacy = {f.name for f in dataclasses.fields(ModelConfig)} & set(data)
        if legacy:
            nested = dict(data.get("pix2seq") or {})
            nested.update({k: data.pop(k) for k in sorted(legacy)})
            data["pix2seq"] = nested
        family = str(data.pop("family", "pix2seq"))
        if family not in list_families():
            raise ValueError(f"config {where}.family: unknown model family {family!r}; known: {list_families()}")
        out = cls(family=family)
        own = cls.builtin_sections()
        for key in [k for k in data if k not in list_families() and k.replace("_", "-") in own]:
            alias, value = key.replace("_", "-"), data.pop(key)  # model.pix2seq_d: the field's spelling
            both = isinstance(value, dict) and isinstance(data.get(alias), dict)
            data[alias] = {**data[alias], **value} if both else data.get(alias, value)
        for key, value in data.items():
            if key not in list_families():
                known = sorted({"family", *list_families()})
                raise ValueError(f"config {where}: unknown key {key!r}; known: {known}")
            if not isinstance(value, dict):
                raise ValueError(f"config {where}.{key}: expected a mapping of options, got {value!r}")
            section = from_dict(family_config_class(key), value, f"{where}.{key}")
            if key in own:
                setattr(out, _field_of(key), section)
            else:
                out.plugins[key] = section
        return out

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict with the plugin sections beside the built-in ones."""
        tree: dict[str, Any] = {"family": self.family}
        tree.update({name: asdict(getattr(self, _field_of(name))) for name in self.builtin_sections()})
        tree.update({name: asdict(section) for name, section in self.plugins.items()})
        return tree


def _field_of(family: str) -> str:
    """The :class:`ModelSection` field of a built-in family (``pix2seq-d`` -> ``pix2seq_d``)."""
    return family.replace("-", "_")


@dataclass
class Config:
    """Everything a run needs; ``to_dict`` is stored in every checkpoint."""

    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    train: TrainSection = field(default_factory=TrainSection)
    generation: GenerationSection = field(default_factory=GenerationSection)

    def __post_init__(self) -> None:
        if isinstance(self.model, ModelConfig):  # Config(model=ModelConfig(...)): the Pix2Seq options
            self.model = ModelSection(pix2seq=self.model)

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict (YAML-safe)."""
        tree = asdict(self)
        tree["model"] = self.model.to_dict()
        return tree


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Convert a YAML/override value to the field's type hint, with an error naming ``where``."""
    origin = typing.get_origin(hint)
    if hint is ModelSection:
        if not isinstance(value, dict):
            raise ValueError(f"config {where}: expected a mapping, got {value!r}")
        return ModelSection.from_tree(value, where)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, dict):
            raise ValueError(f"config {where}: expected a mapping, got {value!r}")
        return from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError(f"config {where}: {value!r} fits none of {hint}")
    if origin is list:
        (inner,) = typing.get_args(hint)
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"config {where}: expected a list, got {value!r}")
        return [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ValueError(f"config {where}: expected true or false, got {value!r}")
    if hint in (int, float):
        if isinstance(value, bool):
            raise ValueError(f"config {where}: expected a number, got {value!r}")
        try:
            number = hint(value)
        except (TypeError, ValueError):
            raise ValueError(f"config {where}: expected {hint.__name__}, got {value!r}") from None
        if hint is int and isinstance(value, float) and value != number:
            raise ValueError(f"config {where}: expected an integer, got {value!r}")
        return number
    if hint is str:
        if isinstance(value, (dict, list)):
            raise ValueError(f"config {where}: expected a string, got {value!r}")
        return str(value)
    return value


def from_dict(cls: type, data: dict[str, Any], where: str = "") -> Any:
    """Build dataclass ``cls`` from a (partial) nested dict; unknown keys raise ValueError naming them."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"config {where or 'root'}: unknown key(s) {sorted(unknown)}; known: {sorted(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}".lstrip(".")) for k, v in data.items()}
    return cls(**kwargs)


def apply_override(tree: dict[str, Any], override: str) -> None:
    """Apply one ``a.b.c=value`` override to a nested dict (value parsed as YAML)."""
    if "=" not in override:
        raise ValueError(f"override {override!r} must look like section.key=value")
    key, raw = override.split("=", 1)
    parts = key.strip().split(".")
    node = tree
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ValueError(f"override {override!r}: {p} is not a section")
    node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else ""


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then the YAML file at ``path`` (if any), then the dotted overrides."""
    tree: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"config file {p} does not exist")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as err:
            raise ValueError(f"config file {p} is not valid YAML: {err}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"config file {p} must hold a mapping of sections, got {type(loaded).__name__}")
        tree = loaded
    for o in overrides or []:
        apply_override(tree, o)
    return from_dict(Config, tree)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write ``cfg`` as YAML (atomically)."""
    from rleseg.atomic import atomic_path

    with atomic_path(Path(path)) as tmp:
        tmp.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
