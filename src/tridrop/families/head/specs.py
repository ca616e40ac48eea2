"""Specs of the classifier-head family: each setting once, with its default, bounds and doc.

:class:`HeadExperiment` is a config section (``presets.<p>.heads.<name>``): the union of the job
specs' settings; :func:`job_specs` builds every job spec an experiment implies, which is how the
config is checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tridrop.specs import (
    MISSING,
    TRAIN_FIXED,
    Experiment,
    Objective,
    Rows,
    Spec,
    SpecError,
    SplitSpec,
    TDSpec,
    TrainSpec,
    _check,
    _device,
    check_hidden_widths,
    pick,
    rekey,
    section,
    setting,
    variant,
    within,
)

INITS = ("reference", "scratch")
REFERENCES = ("train", "pretrained", "backbone")
BUDGETS = ("head", "vgg19")


@dataclass(frozen=True)
class HeadModel(TDSpec):
    """A classifier head with two hidden layers of ``hidden`` units, each followed by TD."""

    hidden: int = setting(4096, "width of both hidden layers (VGG19: 4096)", ge=1)
    init: str = setting(
        "scratch",
        "reference: start from the experiment's reference head; scratch: random initialisation",
        choices=INITS,
    )


@dataclass(frozen=True)
class HeadTrain(Spec):
    model: HeadModel
    train: TrainSpec
    objective: Objective = field(default_factory=Objective)


@dataclass(frozen=True)
class BackboneModel(Spec):
    """A small VGG-style CNN (conv blocks, then a head of two ``hidden``-wide layers) trained
    without TD: the network whose frozen conv part feeds a head experiment's feature cache."""

    channels: tuple[int, ...] = setting(
        (32, 64, 128), "channels of the conv blocks (Conv3x3-ReLU-MaxPool each)", ge=1, min_items=1
    )
    hidden: int = setting(512, "width of its head's hidden layers", ge=1)
    dropout: float = setting(0.5, "dropout rate of its head", ge=0, lt=1)


@dataclass(frozen=True)
class BackboneTrain(Spec):
    model: BackboneModel
    train: TrainSpec


Backbone = section(
    "Backbone",
    "The config's ``backbone`` section: the network trained here and how it trains.",
    (BackboneModel, TrainSpec),
    exclude=("hidden", "device", "deterministic"),
    base=Spec,
)


@dataclass(frozen=True)
class ImageNetSpec(Spec):
    """A local ImageNet copy and how its VGG19 features are cached (never downloaded)."""

    root: str = setting("data/imagenet", "the local ImageNet copy (never downloaded)")
    layout: str = setting(
        "folder",
        "folder (train/<wnid>/*.JPEG, val/<wnid>/*.JPEG) or archives (torchvision's ImageNet)",
        choices=("folder", "archives"),
    )
    weights: str = setting("imagenet1k_v1", "VGG19 weights: imagenet1k_v1, random or a file")
    max_classes: int | None = setting(None, "the first classes only (null: all 1000)", ge=1)
    train_per_class: int | None = setting(None, "training images per class (null: all)", ge=1)
    val_per_class: int | None = setting(None, "validation images per class (null: all)", ge=1)
    resize: int = setting(256, "shorter side after resizing", ge=1)
    crop: int = setting(224, "centre (train: random) crop", ge=32)
    train_views: int = setting(1, "augmented views cached per training image", ge=1)
    shard_size: int = setting(10000, "feature rows per cache shard", ge=1)
    batch_size: int = setting(128, "images per VGG19 forward pass", ge=1)
    workers: int = setting(8, "image-decoding processes", ge=0)
    seed: int = setting(0, "seed of the augmentations", ge=0)


@dataclass(frozen=True)
class FeatureCacheSpec(Spec):
    """Which features to cache: VGG19 features of ImageNet, or a stored split's images (their
    pixels, or the frozen conv features of a trained backbone)."""

    dataset: str
    split: str = setting(MISSING, "train or val", choices=("train", "val"))
    imagenet: ImageNetSpec | None = None
    device: str = "auto"

    def check(self) -> None:
        _check(
            self.dataset != "imagenet" or self.imagenet is not None,
            "imagenet",
            None,
            "an imagenet section for dataset imagenet",
        )


@dataclass(frozen=True)
class PretrainedHead(Spec):
    """The reference head: VGG19's own classifier (``classes`` outputs, ``hidden`` units), or
    the head of a backbone trained here (then only ``hidden`` is checked against it)."""

    weights: str = "imagenet1k_v1"
    classes: int = 1000
    hidden: int = 4096


@dataclass(frozen=True)
class HeadSweep(Spec):
    """Top-1/top-5 at ``widths`` (a head narrower than ``width``: at its own width only)."""

    rows: Rows
    width: int
    widths: tuple[int, ...] = setting(
        MISSING,
        "widths of the sweep (both hidden layers cut alike)",
        ge=1,
        min_items=1,
        unique=True,
    )
    device: str = "auto"

    def check(self) -> None:
        within(self.width, "widths", self.widths)
        _device(self.device)


@dataclass(frozen=True)
class HeadProbe(Spec):
    """A linear probe: one Linear layer from the cached features to the classes, trained as
    the heads are (the same epochs, batch, rate and seed): the control with no hidden layer.
    ``width``: the heads' full width, for the parameter fractions."""

    rows: Rows
    width: int
    train: TrainSpec


@dataclass(frozen=True)
class HeadBaselines(Spec):
    """The reference head at full width, cut by importance ranking, and truncated SVDs."""

    experiment: str
    widths: tuple[int, ...]
    rank_samples: int = setting(10000, "training rows that rank the reference's units", ge=1)
    device: str = "auto"


@dataclass(frozen=True)
class HeadFinetune(Spec):
    """The reference head cut without TD (units ranked as the baselines rank them, and the
    truncated SVD at the TD head's parameters), each then trained ``train.epochs`` epoch(s) at
    ``widths``: the price of the retraining that TD avoids. ``train.seed`` orders the batches."""

    experiment: str
    widths: tuple[int, ...]
    train: TrainSpec
    rank_samples: int = 10000


@dataclass(frozen=True)
class HeadGrid(Spec):
    """Top-1 of the ``model`` heads (every seed) with the two hidden layers cut independently
    to every pair of ``widths``: the (w1, w2) grid and its Pareto front."""

    experiment: str
    model: str
    widths: tuple[int, ...]
    device: str = "auto"


@dataclass(frozen=True)
class HeadPaired(Spec):
    """The ``model`` heads against each control by test image (McNemar) at ``widths``: the
    other trained variants (at their seed), the heads trained at a fixed width (at theirs) and
    the reference cut without training (SVD, ranked units)."""

    experiment: str
    model: str
    widths: tuple[int, ...]
    rank_samples: int = 10000
    device: str = "auto"


@dataclass(frozen=True)
class HeadClaims(Spec):
    """Thresholds of the paper's "minimal impact" claims for a pruned head."""

    model: str = setting("td", "the variant the claims measure")
    kept_25: float = setting(
        0.95, "top-1 kept at a quarter of the head (the paper: little lost)", ge=0
    )
    kept_10: float = setting(0.9, "top-1 kept at a tenth of the head (most of it)", ge=0)
    max_gap: float = setting(0.02, "TD at full width within this of the unconstrained top-1", ge=0)
    budgets: str = setting(
        "head",
        "how the 25% and 10% budgets are counted: head (shares of this head's parameters) or "
        "vgg19 (the hidden units per class VGG19's head keeps at those shares, 1.135 and 0.465, "
        "times this head's classes: the regime of the paper's claim, issue 22)",
        choices=BUDGETS,
    )


@dataclass(frozen=True)
class HeadClaimsJob(Spec):
    """A claims job: the experiment's thresholds and its class count (for vgg19 budgets)."""

    claims: HeadClaims
    classes: int


@dataclass(frozen=True)
class TableSpec(Spec):
    """Rows of one experiment (tables built from the aggregated sweeps)."""

    experiment: str


@dataclass(frozen=True)
class HeadFigure(Spec):
    """What the accuracy figure needs beside the table: the class count (chance, and whether
    top-5 says anything) and how the triangle mask trained the TD heads."""

    experiment: str = ""
    classes: int = 0  # 0: unknown (no chance line)
    hidden: int = 0  # the heads' full width W
    batch_size: int = 0  # the training batch B; 0: unknown (no width marked untrained)
    # Models trained with the triangle mask (row names): with B < W they train only some widths.
    triangle: tuple[str, ...] = ()
    budgets: str = "head"  # the claims' budgets (HeadClaims.budgets), drawn as dotted lines


# Settings a variant may change: its TD layer, its initialisation, its objective, its epochs.
VARIANT_KEYS = ("mode", "p", "init", "loss", "sandwich_random", "distill", "epochs")
_NOT_SETTINGS = ("mode", "p", "init", "seed", "device", "deterministic")


class _Checked(Experiment):
    """A head experiment checks its widths, its reference and its data together."""

    def check(self) -> None:
        check_hidden_widths(self)
        imagenet = self.dataset == "imagenet"
        _check(
            not imagenet or self.imagenet is not None,
            "imagenet",
            None,
            "a section for dataset imagenet",
        )
        ok = self.reference != "pretrained" or imagenet
        _check(
            ok, "reference", self.reference, "train or backbone (pretrained needs dataset imagenet)"
        )
        # With reference train the reference *is* notd (at reference_seed): it cannot start
        # from itself (Snakemake stopped with "Cyclic dependency on rule head_train").
        notd = self.variants.get("notd") or {}
        ok = self.reference != "train" or notd.get("init", "scratch") != "reference"
        _check(
            ok,
            "variants.notd.init",
            "reference",
            "scratch with reference train (the reference is the notd head itself)",
        )
        ok = self.reference != "backbone" or self.backbone is not None
        _check(ok, "backbone", None, "a `backbone:` section for reference backbone")
        ok = self.backbone is None or self.dataset in ("mnist", "fashion_mnist")
        _check(
            ok,
            "backbone",
            "...",
            f"no backbone for dataset {self.dataset} (mnist or fashion_mnist images only)",
        )


HeadExperiment = section(
    "HeadExperiment",
    "One classifier-head experiment: features, reference, TD heads, baselines and claims.",
    (SplitSpec, HeadModel, TrainSpec, HeadSweep, HeadBaselines),
    (
        "reference",
        str,
        setting(
            "train",
            "the unconstrained head: pretrained (VGG19's own), backbone (the head of the network "
            "trained here) or train (trained without TD on the cache)",
            choices=REFERENCES,
        ),
    ),
    ("reference_seed", int, setting(0, "seed of the reference head (reference train)", ge=0)),
    ("processes", int, setting(1, "data-parallel training processes (torchrun) per head", ge=1)),
    (
        "finetune_epochs",
        int,
        setting(
            1,
            "epochs the reference's training-free cuts (ranked, SVD) are trained at each swept "
            "width below full: the price of retraining (0: none)",
            ge=0,
        ),
    ),
    (
        "backbone",
        Backbone | None,
        setting(
            None, "the network trained here whose conv part feeds the cache (reference backbone)"
        ),
    ),
    ("imagenet", ImageNetSpec | None, setting(None, "the local ImageNet copy (dataset imagenet)")),
    ("claims", HeadClaims, setting(HeadClaims(), "pre-registered thresholds, set before the run")),
    exclude=_NOT_SETTINGS,
    base=_Checked,
)


def _variant(exp: Any, name: str) -> dict:
    settings = variant(exp, name, "hidden")
    unknown = sorted(set(settings) - set(VARIANT_KEYS) - {"hidden"})
    if unknown:
        raise SpecError(f"spec: unknown key(s) {unknown}; allowed: {list(VARIANT_KEYS)}")
    return settings


def head_model(exp: Any, name: str) -> HeadModel:
    """The head of variant ``name`` (a configured one, notd or fixed<w>)."""
    return pick(HeadModel, exp, _variant(exp, name))


def train_spec(exp: Any, name: str, **fixed: Any) -> HeadTrain:
    """The training spec of variant ``name``: its head, the experiment's training settings
    (a variant may train other epochs) with ``fixed`` (seed, device), its objective."""
    settings = _variant(exp, name)
    train = pick(TrainSpec, exp, {k: v for k, v in settings.items() if k == "epochs"}, **fixed)
    return HeadTrain(pick(HeadModel, exp, settings), train, pick(Objective, settings))


def notes(name: str, exp: Any) -> list[str]:
    """What a researcher should know before a run that is not an error: swept widths the
    triangle mask never trains (batch < width trains only some widths)."""
    from tridrop.dropout import triangle_widths

    found = []
    trained = triangle_widths(exp.hidden, exp.batch_size)
    for v in exp.variants:
        if head_model(exp, v).mode != "triangle":
            continue
        never = [w for w in exp.widths if w not in trained]
        step = exp.hidden / exp.batch_size
        only = f"multiples of {step:g}" if step == int(step) else f"{len(trained)} widths"
        if never:
            found.append(
                f"note: heads.{name}.variants.{v}: the triangle mask never trains widths "
                f"{never} (batch_size {exp.batch_size} < hidden {exp.hidden}: only {only}); "
                "their rows are open markers in the figure"
            )
    return found


def job_specs(name: str, exp: Any) -> list[Spec]:
    """One of each job spec of experiment ``name``: building them checks the section."""
    out: list[Spec] = [pick(SplitSpec, exp)]
    for v in [*exp.variants, *(f"fixed{w}" for w in exp.fixed_widths)]:
        try:
            out.append(train_spec(exp, v))
        except SpecError as err:
            raise rekey(err, f"variants.{v}") from None
    out.append(HeadSweep(Rows(name, "td"), exp.hidden, tuple(exp.widths)))
    if exp.backbone is not None:
        b = exp.backbone
        out.append(BackboneTrain(pick(BackboneModel, b, hidden=exp.hidden), pick(TrainSpec, b)))
    if exp.imagenet is not None:
        out.append(exp.imagenet)
    return out


EXPERIMENT = HeadExperiment
# A variant's settings (the keys of ``variants.<name>``), for the config check's coercion.
VARIANT = section(
    "HeadVariant",
    "The settings a variant may change.",
    (HeadModel, Objective, TrainSpec),
    exclude=("hidden", *TRAIN_FIXED),
    base=Spec,
)
