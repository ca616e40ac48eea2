"""Typed specs: every setting, its default, its bounds and its one-line description, in one place.

A setting is a dataclass field declared with :func:`setting` (default, bounds, doc); the
:class:`Spec` base checks the bounds, and a spec's ``check`` adds rules across fields. Each
family's wing declares its job specs in its own ``specs`` module; the config's experiment
sections are unions of them (:func:`section`), so the config is validated by building the
specs (:mod:`tridrop.config`). A rule builds a job's spec with :func:`pick` (config keys are
field names), passes it as JSON (:func:`dump`), and the job rebuilds it with :func:`load`,
which rejects unknown keys, wrong types and out-of-range values with a message naming the key.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from dataclasses import MISSING, dataclass, field
from typing import Any

from tridrop.modes import MODES

FIXED = re.compile(r"fixed(\d+)")  # a variant trained without TD at one fixed width
NAME = r"[a-z][a-z0-9_]*"  # experiment and variant names (wildcards, file names)
# Fields a job's spec gets from the rule, never from an experiment's config section.
JOB_FIELDS = ("rows", "experiment", "width", "model", "train", "objective")
DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


class SpecError(ValueError):
    """A spec value that is missing, unknown, of the wrong type or out of range."""


def _check(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise SpecError(f"spec: {key} = {value!r} is not allowed; expected {expected}")


def setting(
    default: Any = MISSING,
    doc: str = "",
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple | None = None,
    pattern: str | None = None,
    min_items: int | None = None,
    unique: bool = False,
) -> Any:
    """A spec field: its default, its one-line ``doc`` and its bounds (checked by :class:`Spec`).

    Bounds apply to a number, to each item of a list, and are skipped for ``None``; ``choices``
    and ``pattern`` to a string (or each key of a mapping, for ``pattern``).
    """
    bounds = {"ge": ge, "gt": gt, "le": le, "lt": lt}
    meta = {
        "doc": doc,
        "bounds": {k: v for k, v in bounds.items() if v is not None},
        "choices": choices,
        "pattern": pattern,
        "min_items": min_items,
        "unique": unique,
    }
    if isinstance(default, dict | list):
        value = default
        return field(default_factory=lambda: type(value)(value), metadata=meta)
    return field(default=default, metadata=meta)


def expected(kind: str, bounds: dict) -> str:
    """The allowed range in words: 'an integer >= 1', 'a number in (0, 1]'."""
    low = ("[", bounds["ge"]) if "ge" in bounds else ("(", bounds.get("gt"))
    high = ("]", bounds["le"]) if "le" in bounds else (")", bounds.get("lt"))
    if low[1] is not None and high[1] is not None:
        return f"{kind} in {low[0]}{low[1]}, {high[1]}{high[0]}"
    if low[1] is not None:
        return f"{kind} {'>=' if low[0] == '[' else '>'} {low[1]}"
    if high[1] is not None:
        return f"{kind} {'<=' if high[0] == ']' else '<'} {high[1]}"
    return kind


def _in_bounds(value: float, bounds: dict) -> bool:
    tests = {
        "ge": lambda b: value >= b,
        "gt": lambda b: value > b,
        "le": lambda b: value <= b,
        "lt": lambda b: value < b,
    }
    return all(tests[k](b) for k, b in bounds.items())


@dataclass(frozen=True)
class Spec:
    """Base of every spec: checks each field's bounds, then the spec's own :meth:`check`."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            _check_field(f, hints[f.name], getattr(self, f.name))
        self.check()

    def check(self) -> None:
        """Rules across fields (a subclass's); bounds of single fields are declared."""


def _check_field(f: dataclasses.Field, tp: Any, value: Any) -> None:
    meta = f.metadata
    if not meta or value is None:
        return
    name = f.name
    if meta["choices"] is not None:
        _check(value in meta["choices"], name, value, f"one of {list(meta['choices'])}")
    if meta["pattern"] is not None:
        for n in list(value) if isinstance(value, dict) else [value]:
            if not re.fullmatch(meta["pattern"], str(n)):
                raise SpecError(f"spec: {name}: bad name {n!r}; names must match {meta['pattern']}")
    items = list(value) if isinstance(value, tuple) else None
    if meta["min_items"] is not None:
        n = meta["min_items"]
        _check(len(value) >= n, name, _plain(value), f"at least {n} item(s)")
    if meta["unique"] and items is not None:
        _check(len(set(items)) == len(items), name, list(items), "a list without repeated items")
    bounds = meta["bounds"]
    if bounds:
        inner = typing.get_args(tp)[0] if items is not None else _strip_optional(tp)
        kind = "an integer" if inner is int else "a number"
        for i, v in enumerate(items if items is not None else [value]):
            key = f"{name}[{i}]" if items is not None else name
            _check(_in_bounds(v, bounds), key, v, expected(kind, bounds))


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return inner
    return tp


KEYED = re.compile(r"[\w.\[\]]+( = |: )")  # a message that starts with its key


def strip_spec(text: str) -> tuple[str, bool]:
    """A spec error's message without its ``spec`` prefix, and whether it starts with a key."""
    for head in ("spec: spec.", "spec: ", "spec."):
        if text.startswith(head):
            text = text[len(head) :]
            break
    return text, KEYED.match(text) is not None


def rekey(err: SpecError, prefix: str) -> SpecError:
    """``err`` with ``prefix`` put before its key (``spec.mode`` -> ``spec.variants.td.mode``)."""
    rest, keyed = strip_spec(str(err))
    return SpecError(f"spec.{prefix}.{rest}" if keyed else f"spec.{prefix}: {rest}")


def doc(cls: type, name: str) -> str:
    """The one-line description of setting ``name`` of ``cls`` ('' when it has none)."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    return f.metadata.get("doc", "") if f.metadata else ""


def section(
    name: str,
    doc_text: str,
    parts: tuple[type, ...],
    *own: tuple,
    exclude=(),
    tighten: dict | None = None,
    base: type,
) -> type:
    """A config section spec: the settings of ``parts`` (each written once, in its own spec;
    job-level fields such as ``rows`` and those in ``exclude`` left out), then ``own`` fields
    ``(name, type, setting(...))``; keyword-only, checked by ``base``'s ``check``."""
    fields, seen = [], {*exclude, *JOB_FIELDS}
    for part in parts:
        hints = typing.get_type_hints(part)
        for f in dataclasses.fields(part):
            if f.name in seen or f.name in {o[0] for o in own}:
                continue
            seen.add(f.name)
            meta = dict(f.metadata)
            if tighten and f.name in tighten:  # a stricter bound where the section needs one
                meta["bounds"] = {**meta["bounds"], **tighten[f.name]}
            copy = field(default=f.default, default_factory=f.default_factory, metadata=meta)
            fields.append((f.name, hints[f.name], copy))
    cls = dataclasses.make_dataclass(
        name, [*fields, *own], bases=(base,), frozen=True, kw_only=True
    )
    cls.__doc__ = doc_text
    cls.__module__ = base.__module__
    return cls


@dataclass(frozen=True)
class TrainSpec(Spec):
    """Optimisation settings of one training run (Adam, shuffled mini-batches)."""

    epochs: int = setting(100, "passes over the training set", ge=1)
    batch_size: int = setting(64, "images per optimisation step", ge=1)
    lr: float = setting(1e-3, "Adam's learning rate", gt=0)
    weight_decay: float = setting(0.0, "Adam's L2 penalty", ge=0)
    val_fraction: float = setting(
        0.0,
        "share of the training images held out for validation (the same images in every run: "
        "seed 0), whose loss each epoch records; 0: none, all images train",
        ge=0,
        lt=1,
    )
    seed: int = setting(0, "the run's random seed (initialisation, batches, masks)", ge=0)
    device: str = setting("auto", "auto (CUDA when present, else the CPU), cpu, cuda or cuda:N")
    # CUDA only (the CPU is deterministic already): deterministic kernels, no autotuning.
    deterministic: bool = setting(False, "CUDA only: deterministic kernels, no autotuning")

    def check(self) -> None:
        _device(self.device)


def within(width: int, key: str, widths: tuple[int, ...]) -> None:
    """A sweep's ``width`` is at least 1 and its listed ``widths`` lie in 1..width."""
    _check(width >= 1, "width", width, "an integer >= 1")
    too_wide = [w for w in widths if not 1 <= w <= width]
    _check(not too_wide, key, too_wide, f"widths in 1..width ({width})")


def check_hidden_widths(exp: Any) -> None:
    """An experiment's swept and fixed widths fit its hidden layers, and its claims' model is
    one of its variants (the checks of a family whose TD layers are ``hidden`` wide)."""
    for key in ("widths", "fixed_widths"):
        too_wide = [w for w in getattr(exp, key) if w > exp.hidden]
        _check(not too_wide, key, too_wide, f"widths up to the hidden layers ({exp.hidden})")
    ok = exp.claims.model in exp.variants
    _check(ok, "claims.model", exp.claims.model, f"a variant, one of {sorted(exp.variants)}")


def _device(value: str) -> None:
    _check(DEVICE.fullmatch(value) is not None, "device", value, "auto, cpu, cuda or cuda:N")


DATASETS = ("digits", "mnist", "fashion_mnist", "celeba", "imagenet")


@dataclass(frozen=True)
class SplitSpec(Spec):
    """How a dataset is split and stored; shared by every experiment that uses it."""

    dataset: str = setting(
        MISSING,
        "digits (scikit-learn's 8x8, bundled), mnist or fashion_mnist (IDX files), celeba "
        "(aligned faces, 64x64) or imagenet (VGG19 features of a local copy; heads only)",
        choices=DATASETS,
    )
    source: str = setting(
        "download",
        "download (torchvision), local (IDX files or CelebA's layout in `path`), auto (local "
        "where `path` holds the files, else download)",
        choices=("download", "local", "auto"),
    )
    path: str | None = setting(None, "the dataset's folder for source local or auto")
    test_fraction: float = setting(
        0.2, "share held out for testing (datasets without an official split)", gt=0, lt=1
    )
    split_seed: int = setting(0, "seed of that split", ge=0)
    subset: str = setting(
        "all",
        "all (the official split where the files have one) or t10k (MNIST-format: the 10,000 "
        "test images alone, split by test_fraction, so a download and ../shared/data/mnist "
        "give the same run)",
        choices=("all", "t10k"),
    )
    max_train: int | None = setting(None, "at most this many training images (null: all)", ge=1)
    max_test: int | None = setting(None, "at most this many test images (null: all)", ge=1)


SPLIT_KEYS = tuple(f.name for f in dataclasses.fields(SplitSpec) if f.name != "dataset")


@dataclass(frozen=True)
class TDSpec(Spec):
    """The Triangular Dropout layer of a model: how widths are drawn in training."""

    mode: str = setting(
        "triangle",
        "widths in training: triangle (by batch position), random (uniform), nested "
        "(geometric), loguniform, dropout (plain) or none (no TD)",
        choices=MODES,
    )
    p: float = setting(
        0.1, "nested: p of the geometric cut point; dropout: the drop rate", gt=0, le=1
    )


# The training settings a variant keeps from its experiment (a variant may change its epochs).
TRAIN_FIXED = (
    "batch_size",
    "lr",
    "weight_decay",
    "val_fraction",
    "seed",
    "device",
    "deterministic",
)
LOSSES = ("plain", "matryoshka", "sandwich")  # the families' objectives modules


@dataclass(frozen=True)
class Objective(Spec):
    """What each training step minimises (each family's ``objectives`` module).

    plain: the family's loss under the layer's masks; matryoshka: the mean of the losses at
    the nested widths 1, 2, 4, ..., W for every sample (MRL-E, one shared output layer);
    sandwich: the mean of the losses at full width, width 1 and ``sandwich_random`` random
    widths (US-Nets' sandwich rule), with ``distill`` the narrow widths also fit the full
    width's output (inplace distillation).
    """

    loss: str = setting("plain", "plain, matryoshka or sandwich (see Objective)", choices=LOSSES)
    sandwich_random: int = setting(2, "sandwich: random widths per step", ge=0)
    distill: bool = setting(False, "sandwich: narrow widths also fit the full width's output")


@dataclass(frozen=True)
class Gap(Spec):
    """The gap report of one experiment: each model that serves every width against the
    references (:mod:`tridrop.gap`)."""

    experiment: str
    notd: str = "notd"
    # The model name of each run's metadata file, in the order the files are given.
    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class Select(Spec):
    """The width :func:`tridrop.select.select_width` picks for each ``model`` run (every seed)
    at each tolerance (relative to full width's metric: top-1, or MSE) with ``confidence``, on
    the even test images, and its metric on the odd ones (the choice checked on images it did
    not see)."""

    experiment: str
    model: str
    widths: tuple[int, ...] = setting(MISSING, "candidate widths below full", ge=1, min_items=1)
    tolerances: tuple[float, ...] = setting(
        (0.01, 0.05), "shares of full width's metric a chosen width may lose", ge=0, min_items=1
    )
    confidence: float = setting(0.95, "confidence of each choice", gt=0, lt=1)
    device: str = "auto"


@dataclass(frozen=True)
class OwnModel(Spec):
    """How ``tridrop model`` reads a user's model file: a state dict for the module that
    ``build`` ("package.module:function") returns, or with ``trust`` a whole pickled module."""

    build: str = setting("", "import path of a function returning the model with its TD layers")
    trust: bool = setting(False, "load a whole pickled module (runs code from the file)")
    batch_size: int = setting(256, "examples per forward pass", ge=1)


@dataclass(frozen=True)
class SelectOwn(OwnModel):
    """:func:`tridrop.select.select_width` on a user's model and validation tensors."""

    metric: str = setting("accuracy", "accuracy or mse", choices=("accuracy", "mse"))
    tolerance: float = setting(0.01, "what a chosen width may lose", ge=0)
    relative: bool = setting(True, "tolerance as a share of full width's metric")
    confidence: float = setting(0.95, "confidence of the choice", gt=0, lt=1)
    widths: tuple[int, ...] = setting((), "candidate widths (empty: every width)", ge=1)
    per_layer: bool = setting(False, "search each TD layer's width (default: tied widths)")


@dataclass(frozen=True)
class ExportOwn(OwnModel):
    """:func:`tridrop.export.export` of a user's model at ``width`` (0: the selection's)."""

    width: int = setting(0, "the width to cut to (0: the one --selection chose)", ge=0)
    onnx: bool = setting(True, "also write an ONNX graph beside the torch.export program")
    force: bool = setting(False, "export a model not trained for truncation anyway")


@dataclass(frozen=True)
class Rows(Spec):
    """The labels of the result rows a job writes about one trained model."""

    experiment: str
    model: str
    seed: int = 0


@dataclass(frozen=True)
class Aggregate(Spec):
    """Widths reported in the headline metrics (``dvc metrics show``)."""

    headline_widths: tuple[int, ...] = setting(
        (1, 2, 4, 8), "widths reported in the headline metrics (dvc metrics show)", ge=1
    )


@dataclass(frozen=True)
class Environment(Spec):
    """The run's record: the device asked for and the resolved config."""

    device: str = "auto"
    config: dict = setting({}, "the resolved config")

    def check(self) -> None:
        _device(self.device)


@dataclass(frozen=True)
class MaskFigure(Spec):
    """The triangular-mask figure."""

    mask_batch: int = setting(16, "batch size of the triangular-mask figure", ge=1)
    mask_width: int = setting(16, "layer width of the triangular-mask figure", ge=1)


@dataclass(frozen=True)
class Readme(Spec):
    """The presets whose generated pages are written (empty: every page)."""

    presets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Nothing(Spec):
    """A job without settings."""


@dataclass(frozen=True)
class Experiment(Spec):
    """The settings every experiment has, whatever its family (a wing's section adds its own)."""

    seeds: tuple[int, ...] = setting(
        (0, 1, 2), "seeds of every variant (one run each)", ge=0, min_items=1, unique=True
    )
    variants: dict = setting(
        {"td": {"mode": "triangle"}},
        "named variants: settings that differ from the experiment's (e.g. {mode: random})",
        pattern=NAME,
        min_items=1,
    )
    fixed_widths: tuple[int, ...] = setting(
        (), "widths of the baselines trained without TD at one fixed width", ge=1, unique=True
    )


# ---------------------------------------------------------------- building and reading specs


def pick(cls: type, *sections: dict, **values: Any) -> Any:
    """Build ``cls`` from the config ``sections`` (later ones win) and explicit ``values``.

    Only keys that are fields of ``cls`` are taken, so defaults live in the dataclass alone.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    merged = {k: v for s in sections for k, v in _items(s) if k in names}
    return load(cls, {**merged, **values})


def _items(section: Any):
    if dataclasses.is_dataclass(section):
        return ((f.name, getattr(section, f.name)) for f in dataclasses.fields(section))
    return section.items()


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
        elif f.default is MISSING and f.default_factory is MISSING:
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
        return _convert(_strip_optional(tp), value, key)
    if dataclasses.is_dataclass(tp):
        return value if isinstance(value, tp) else load(tp, value, key)
    if origin is tuple:
        _check(isinstance(value, list | tuple), key, value, "a list")
        return tuple(_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        _check(isinstance(value, dict), key, value, "a mapping")
        return {k: _convert(args[1], v, f"{key}.{k}") for k, v in value.items()}
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
    """The fields of ``cls`` with their types, defaults and descriptions (a job's ``--help``)."""
    hints = typing.get_type_hints(cls)
    lines = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            lines.append(f"{indent}{f.name}:")
            lines.append(describe(tp, indent + "  "))
            continue
        if f.default is not MISSING:
            default = f"default {json.dumps(_plain(f.default))}"
        elif f.default_factory is not MISSING:
            default = f"default {json.dumps(f.default_factory())}"
        else:
            default = "required"
        name = getattr(tp, "__name__", str(tp).replace("typing.", ""))
        text = f.metadata.get("doc") if f.metadata else ""
        lines.append(f"{indent}{f.name} ({name}): {default}" + (f"; {text}" if text else ""))
    return "\n".join(line for line in lines if line)


def defaults(cls: type) -> dict:
    """The fields that have defaults, as JSON-ready values (``--print-defaults``)."""
    out = {}
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.default):  # a nested spec given as a default instance
            out[f.name] = json.loads(dump(f.default))
        elif f.default is not MISSING:
            out[f.name] = list(f.default) if isinstance(f.default, tuple) else f.default
        elif f.default_factory is not MISSING:
            value = f.default_factory()
            out[f.name] = json.loads(dump(value)) if dataclasses.is_dataclass(value) else value
        elif dataclasses.is_dataclass(typing.get_type_hints(cls)[f.name]):
            out[f.name] = defaults(typing.get_type_hints(cls)[f.name])
    return out


def as_config(spec: Any) -> dict:
    """A spec as plain config values (lists for tuples), e.g. a filled-in experiment section."""
    return json.loads(json.dumps(dataclasses.asdict(spec)))


def variant(section: Any, name: str, width_key: str) -> dict:
    """Settings of a variant of an experiment: a configured one, ``notd`` or ``fixed<width>``.

    ``notd`` (when not configured) and ``fixed<width>`` are the same network trained without
    TD, at full width or with ``width_key`` (``latent`` or ``hidden``) set to ``width``.
    """
    variants = section.variants if dataclasses.is_dataclass(section) else section["variants"]
    if name in variants:
        return dict(variants[name])
    if name == "notd":
        return {"mode": "none", "init": "scratch"}
    if m := FIXED.fullmatch(name):
        return {"mode": "none", "init": "scratch", width_key: int(m.group(1))}
    raise SpecError(f"unknown variant {name!r}; configured: {sorted(variants)}")


def rows_name(variant_name: str) -> str:
    """The model name in result rows: every fixed-width run is the one baseline ``fixed``."""
    return "fixed" if FIXED.fullmatch(variant_name) else variant_name
