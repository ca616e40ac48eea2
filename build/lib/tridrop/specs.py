"""Typed run specs: every job's settings, their defaults and their validation, in one place.

A rule builds a job's spec from the config with :func:`pick` (config keys are field names),
passes it as JSON (:func:`dump`), and the job rebuilds it with :func:`load`, which rejects
unknown keys, wrong types and out-of-range values with a message naming the key. A new
hyper-parameter touches three files: the config, its schema and a dataclass here.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

MODES = ("triangle", "random", "nested", "loguniform", "dropout", "none")  # as tridrop.dropout
LOSSES = ("plain", "matryoshka", "sandwich")  # as in tridrop.objectives
FIXED = re.compile(r"fixed(\d+)")  # a variant trained without TD at one fixed width


class SpecError(ValueError):
    """A spec value that is missing, unknown, of the wrong type or out of range."""


def _check(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise SpecError(f"spec: {key} = {value!r} is not allowed; expected {expected}")


def _device(value: str) -> None:
    _check(
        value in ("auto", "cpu") or re.fullmatch(r"cuda(:\d+)?", value) is not None,
        "device",
        value,
        "auto, cpu, cuda or cuda:N",
    )


def _within(width: int, key: str, widths: tuple[int, ...]) -> None:
    """A sweep's ``width`` is at least 1 and its listed ``widths`` lie in 1..width."""
    _check(width >= 1, "width", width, "an integer >= 1")
    too_wide = [w for w in widths if not 1 <= w <= width]
    _check(not too_wide, key, too_wide, f"widths in 1..width ({width})")


@dataclass(frozen=True)
class TrainSpec:
    """Optimisation settings of one training run (Adam, shuffled mini-batches)."""

    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "auto"
    # CUDA only (the CPU is deterministic already): deterministic kernels, no autotuning.
    deterministic: bool = False

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, "epochs", self.epochs, "an integer >= 1")
        _check(self.batch_size >= 1, "batch_size", self.batch_size, "an integer >= 1")
        _check(self.lr > 0, "lr", self.lr, "a number > 0")
        _check(self.weight_decay >= 0, "weight_decay", self.weight_decay, "a number >= 0")
        _check(self.seed >= 0, "seed", self.seed, "an integer >= 0")
        _device(self.device)


@dataclass(frozen=True)
class SplitSpec:
    """How a dataset is split and stored; shared by every experiment that uses it."""

    dataset: str
    test_fraction: float = 0.2
    split_seed: int = 0
    max_train: int | None = None
    max_test: int | None = None

    def __post_init__(self) -> None:
        _check(0 < self.test_fraction < 1, "test_fraction", self.test_fraction, "in (0, 1)")
        _check(self.split_seed >= 0, "split_seed", self.split_seed, "an integer >= 0")
        for key in ("max_train", "max_test"):
            value = getattr(self, key)
            _check(value is None or value >= 1, key, value, "an integer >= 1 or null")


@dataclass(frozen=True)
class TDSpec:
    """The Triangular Dropout layer of a model: how widths are drawn in training."""

    mode: str = "triangle"
    # nested: p of the geometric cut point; dropout: the drop rate.
    p: float = 0.1

    def __post_init__(self) -> None:
        _check(self.mode in MODES, "mode", self.mode, f"one of {list(MODES)}")
        _check(0 < self.p <= 1, "p", self.p, "a number in (0, 1]")


@dataclass(frozen=True)
class AutoencoderModel(TDSpec):
    """An autoencoder: MLP (``hidden`` units) or conv (``channels``), ``latent`` TD units."""

    arch: str = "mlp"
    hidden: int = 128
    channels: tuple[int, ...] = (32, 64, 128, 256)
    latent: int = 16
    # Share of each training batch kept at full width (vsnn's mix of unmasked samples).
    full: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(0 <= self.full <= 1, "full", self.full, "a number in [0, 1]")
        _check(self.arch in ("mlp", "conv"), "arch", self.arch, "mlp or conv")
        _check(self.latent >= 1, "latent", self.latent, "an integer >= 1")
        _check(self.arch != "mlp" or self.hidden >= 1, "hidden", self.hidden, ">= 1 for an MLP")
        _check(
            len(self.channels) >= 1 and min(self.channels) >= 1,
            "channels",
            self.channels,
            "a list of channel counts >= 1",
        )


@dataclass(frozen=True)
class HeadModel(TDSpec):
    """A classifier head with two hidden layers of ``hidden`` units, each followed by TD."""

    hidden: int = 4096
    # reference: start from the experiment's reference head; scratch: random initialisation.
    init: str = "scratch"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.hidden >= 1, "hidden", self.hidden, "an integer >= 1")
        _check(self.init in ("reference", "scratch"), "init", self.init, "reference or scratch")


@dataclass(frozen=True)
class Objective:
    """What each training step of an autoencoder minimises (``tridrop.objectives``).

    plain: the reconstruction error under the layer's masks; matryoshka: the mean of the
    errors at the nested widths 1, 2, 4, ..., W for every sample (MRL-E, one decoder);
    sandwich: the mean of the errors at full width, width 1 and ``sandwich_random`` random
    widths (US-Nets' sandwich rule), with ``distill`` the narrow widths also fit the full
    width's output (inplace distillation).
    """

    loss: str = "plain"
    sandwich_random: int = 2
    distill: bool = False

    def __post_init__(self) -> None:
        _check(self.loss in LOSSES, "loss", self.loss, f"one of {list(LOSSES)}")
        ok = self.sandwich_random >= 0
        _check(ok, "sandwich_random", self.sandwich_random, "an integer >= 0")


@dataclass(frozen=True)
class AutoencoderTrain:
    model: AutoencoderModel
    train: TrainSpec
    objective: Objective = field(default_factory=Objective)

    def __post_init__(self) -> None:
        # A triangle batch of B < W samples trains only B of the W widths (batch 1: none).
        m, b = self.model, self.train.batch_size
        _check(
            m.mode != "triangle" or b >= m.latent,
            "train.batch_size",
            b,
            f"at least model.latent = {m.latent} in mode triangle (a smaller batch trains "
            f"only {b} of the {m.latent} widths)",
        )


@dataclass(frozen=True)
class PCAAETrain:
    """PCAAE (Pham, Ladjal, Newson): latent units learned one at a time, up to ``widths``.

    Stage k trains a one-unit encoder (with non-affine BatchNorm) and a decoder of k units for
    ``train.epochs`` epochs, earlier encoders frozen; Adam with ``lr`` and ``betas``.
    """

    experiment: str
    model: AutoencoderModel
    train: TrainSpec
    widths: int = 8
    cov_weight: float = 1.0
    betas: tuple[float, ...] = (0.5, 0.999)

    def __post_init__(self) -> None:
        _check(self.widths >= 1, "widths", self.widths, "an integer >= 1")
        _check(self.cov_weight >= 0, "cov_weight", self.cov_weight, "a number >= 0")
        ok = len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas)
        _check(ok, "betas", self.betas, "two numbers in [0, 1)")


@dataclass(frozen=True)
class Gap:
    """The gap report of one autoencoder experiment: each variant against the references."""

    experiment: str
    notd: str = "notd"
    # The model name of each run's metadata file, in the order the files are given.
    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class HeadTrain:
    model: HeadModel
    train: TrainSpec


@dataclass(frozen=True)
class BackboneModel:
    """A small VGG-style CNN (conv blocks, then a head of two ``hidden``-wide layers) trained
    without TD: the network whose frozen conv part feeds a head experiment's feature cache."""

    channels: tuple[int, ...] = (32, 64, 128)
    hidden: int = 512
    dropout: float = 0.5

    def __post_init__(self) -> None:
        ok = len(self.channels) >= 1 and all(c >= 1 for c in self.channels)
        _check(ok, "channels", self.channels, "a non-empty list of integers >= 1")
        _check(self.hidden >= 1, "hidden", self.hidden, "an integer >= 1")
        _check(0 <= self.dropout < 1, "dropout", self.dropout, "a number in [0, 1)")


@dataclass(frozen=True)
class BackboneTrain:
    model: BackboneModel
    train: TrainSpec


@dataclass(frozen=True)
class Rows:
    """The labels of the result rows a job writes about one trained model."""

    experiment: str
    model: str
    seed: int = 0


@dataclass(frozen=True)
class AutoencoderSweep:
    """Test MSE at every width up to ``width`` (a narrower model: at its own width only)."""

    rows: Rows
    width: int
    recon_images: int = 8
    recon_widths: tuple[int, ...] = ()  # empty: every width
    device: str = "auto"

    def __post_init__(self) -> None:
        _within(self.width, "recon_widths", self.recon_widths)
        _device(self.device)


@dataclass(frozen=True)
class AutoencoderAnalysis:
    """Importance and dependence of the latent units on the first ``feature_images`` images."""

    rows: Rows
    feature_images: int = 500
    device: str = "auto"

    def __post_init__(self) -> None:
        _device(self.device)


@dataclass(frozen=True)
class AutoencoderBaselines:
    """Baselines that are not trained variants: PCA at widths ``1..width``."""

    experiment: str
    width: int

    def __post_init__(self) -> None:
        _check(self.width >= 1, "width", self.width, "an integer >= 1")


@dataclass(frozen=True)
class AutoencoderClaims:
    """Thresholds of the paper's autoencoder claims, fixed before the runs that test them."""

    experiment: str
    td: str = "td"
    notd: str = "notd"
    # TD orders features: Spearman rho(unit, mean importance) below this.
    importance_rho: float = -0.8
    # Dependence mostly lower-triangular; 0.5 is a symmetric matrix.
    lower_share: float = 0.5
    # MSE falls with width: Spearman rho(width, mean MSE) below this.
    mse_rho: float = -0.9
    # TD at width k vs an autoencoder trained at width k: MSE ratio at most this.
    fixed_ratio: float = 1.5
    # TD vs the same autoencoder without TD, at full width: MSE ratio at most this.
    full_gap: float = 1.5
    # TD vs PCAAE at matched widths: geometric-mean MSE ratio at most this.
    pcaae_ratio: float = 1.1
    # Gap closed: some variant within gap_full of no TD at full width and within gap_fixed of
    # the fixed-width autoencoders at every width.
    gap_full: float = 1.05
    gap_fixed: float = 1.1


@dataclass(frozen=True)
class ImageNetSpec:
    """A local ImageNet copy and how its VGG19 features are cached (never downloaded)."""

    root: str = "data/imagenet"
    layout: str = "folder"
    weights: str = "imagenet1k_v1"
    max_classes: int | None = None
    train_per_class: int | None = None
    val_per_class: int | None = None
    resize: int = 256
    crop: int = 224
    train_views: int = 1
    shard_size: int = 10000
    batch_size: int = 128
    workers: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        _check(self.layout in ("folder", "archives"), "layout", self.layout, "folder or archives")


@dataclass(frozen=True)
class FeatureCacheSpec:
    """Which features to cache: VGG19 features of ImageNet, or a stored split's images (their
    pixels, or the frozen conv features of a trained backbone)."""

    dataset: str
    split: str
    imagenet: ImageNetSpec | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        _check(self.split in ("train", "val"), "split", self.split, "train or val")
        _check(
            self.dataset != "imagenet" or self.imagenet is not None,
            "imagenet",
            None,
            "an imagenet section for dataset imagenet",
        )


@dataclass(frozen=True)
class PretrainedHead:
    """The reference head: VGG19's own classifier (``classes`` outputs, ``hidden`` units), or
    the head of a backbone trained here (then only ``hidden`` is checked against it)."""

    weights: str = "imagenet1k_v1"
    classes: int = 1000
    hidden: int = 4096


@dataclass(frozen=True)
class HeadSweep:
    """Top-1/top-5 at ``widths`` (a head narrower than ``width``: at its own width only)."""

    rows: Rows
    width: int
    widths: tuple[int, ...]
    device: str = "auto"

    def __post_init__(self) -> None:
        _within(self.width, "widths", self.widths)
        _device(self.device)


@dataclass(frozen=True)
class HeadBaselines:
    """The reference head at full width, cut by importance ranking, and truncated SVDs."""

    experiment: str
    widths: tuple[int, ...]
    rank_samples: int = 10000
    device: str = "auto"


@dataclass(frozen=True)
class HeadClaims:
    """Thresholds of the paper's "minimal impact" claims for a pruned head."""

    model: str = "td"
    kept_25: float = 0.95
    kept_10: float = 0.9
    max_gap: float = 0.02


@dataclass(frozen=True)
class Experiment:
    """Rows of one experiment (tables built from the aggregated sweeps)."""

    experiment: str


@dataclass(frozen=True)
class Aggregate:
    """Widths reported in the headline metrics (``dvc metrics show``)."""

    headline_widths: tuple[int, ...] = (1, 2, 4, 8)


@dataclass(frozen=True)
class Environment:
    """The run's record: the device asked for and the resolved config."""

    device: str = "auto"
    config: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _device(self.device)


@dataclass(frozen=True)
class MaskFigure:
    mask_batch: int = 16
    mask_width: int = 16

    def __post_init__(self) -> None:
        _check(self.mask_batch >= 1, "mask_batch", self.mask_batch, "an integer >= 1")
        _check(self.mask_width >= 1, "mask_width", self.mask_width, "an integer >= 1")


@dataclass(frozen=True)
class SweepFigure:
    experiment: str
    metric: str = "mse"


@dataclass(frozen=True)
class GapFigure:
    experiment: str


@dataclass(frozen=True)
class ReconstructionsFigure:
    title: str = ""


@dataclass(frozen=True)
class Readme:
    """The presets whose generated pages are written (empty: every page)."""

    presets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Nothing:
    """A job without settings."""


# ---------------------------------------------------------------- building and reading specs


def pick(cls: type, *sections: dict, **values: Any) -> Any:
    """Build ``cls`` from the config ``sections`` (later ones win) and explicit ``values``.

    Only keys that are fields of ``cls`` are taken, so defaults live in the dataclass alone.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    merged = {k: v for s in sections for k, v in s.items() if k in names}
    return load(cls, {**merged, **values})


def dump(spec: Any) -> str:
    """The spec as compact JSON with sorted keys (a rule's param: a change reruns the job)."""
    return json.dumps(dataclasses.asdict(spec), sort_keys=True, separators=(",", ":"))


def load(cls: type, data: dict | str, key: str = "spec") -> Any:
    """Build and validate ``cls`` from a dict or JSON text; errors name the dotted key."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as err:
            raise SpecError(f"{key}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise SpecError(f"{key}: expected an object of {cls.__name__} fields, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SpecError(f"{key}: unknown key(s) {unknown}; allowed: {sorted(fields)}")
    values = {}
    for name, f in fields.items():
        if name in data:
            values[name] = _convert(hints[name], data[name], f"{key}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SpecError(f"{key}: missing required key {name!r} ({cls.__name__})")
    try:
        return cls(**values)
    except SpecError as err:
        raise SpecError(str(err).replace("spec: ", f"{key}.", 1)) from None


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, key)
    if dataclasses.is_dataclass(tp):
        return value if isinstance(value, tp) else load(tp, value, key)
    if origin is tuple:
        _check(isinstance(value, list | tuple), key, value, "a list")
        return tuple(_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
    if tp is bool:
        _check(isinstance(value, bool), key, value, "true or false")
    elif tp is int:
        _check(isinstance(value, int) and not isinstance(value, bool), key, value, "an integer")
    elif tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        _check(ok, key, value, "a number")
        return float(value)
    elif tp is str:
        _check(isinstance(value, str), key, value, "a string")
    elif tp is dict:
        _check(isinstance(value, dict), key, value, "a mapping")
    return value


def describe(cls: type, indent: str = "  ") -> str:
    """The fields of ``cls`` with their types and defaults (a job's ``--help``)."""
    hints = typing.get_type_hints(cls)
    lines = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            lines.append(f"{indent}{f.name}:")
            lines.append(describe(tp, indent + "  "))
            continue
        if f.default is not dataclasses.MISSING:
            default = f"default {json.dumps(f.default)}"
        elif f.default_factory is not dataclasses.MISSING:
            default = f"default {json.dumps(f.default_factory())}"
        else:
            default = "required"
        name = getattr(tp, "__name__", str(tp).replace("typing.", ""))
        lines.append(f"{indent}{f.name} ({name}): {default}")
    return "\n".join(line for line in lines if line)


def defaults(cls: type) -> dict:
    """The fields that have defaults, as JSON-ready values (``--print-defaults``)."""
    out = {}
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.default):  # a nested spec given as a default instance
            out[f.name] = json.loads(dump(f.default))
        elif f.default is not dataclasses.MISSING:
            out[f.name] = list(f.default) if isinstance(f.default, tuple) else f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
            out[f.name] = json.loads(dump(value)) if dataclasses.is_dataclass(value) else value
        elif dataclasses.is_dataclass(typing.get_type_hints(cls)[f.name]):
            out[f.name] = defaults(typing.get_type_hints(cls)[f.name])
    return out


def variant(section: dict, name: str, width_key: str) -> dict:
    """Settings of a variant of an experiment: a configured one, ``notd`` or ``fixed<width>``.

    ``notd`` (when not configured) and ``fixed<width>`` are the same network trained without
    TD, at full width or with ``width_key`` (``latent`` or ``hidden``) set to ``width``.
    """
    if name in section["variants"]:
        return dict(section["variants"][name])
    if name == "notd":
        return {"mode": "none", "init": "scratch"}
    if m := FIXED.fullmatch(name):
        return {"mode": "none", "init": "scratch", width_key: int(m.group(1))}
    raise SpecError(f"unknown variant {name!r}; configured: {sorted(section['variants'])}")


def rows_name(variant_name: str) -> str:
    """The model name in result rows: every fixed-width run is the one baseline ``fixed``."""
    return "fixed" if FIXED.fullmatch(variant_name) else variant_name
