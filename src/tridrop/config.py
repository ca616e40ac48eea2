"""Checks of the pipeline's config, by building the specs it implies; messages name the key.

Each experiment section is loaded into its family's section spec (every setting's default,
bounds and description live in the wings' ``specs`` modules), then every job spec it implies is
built, so a bad value fails before any job runs with the dotted key, the value and what is
allowed. Only the rules across experiments live here: unique names, reserved names, one split
per dataset. The Snakefile calls :func:`coerce` and :func:`problems`, then :func:`resolve`.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tridrop.registry import Family
from tridrop.registry import load as load_families
from tridrop.specs import (
    SPLIT_KEYS,
    MaskFigure,
    Spec,
    SpecError,
    _check,
    as_config,
    load,
    setting,
    strip_spec,
)


class ConfigError(ValueError):
    """A config file that cannot be read, or a config that breaks a rule; names file or key."""


class _UniqueKeys(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (else the last wins).

    Merge keys (``<<: *anchor``) work as in PyYAML: the mapping's own keys override the
    merged ones (only its own keys are checked for repeats).
    """

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (the first would be ignored)",
                    key_node.start_mark,
                )  # fmt: skip
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read(path: str | Path) -> dict:
    """The config file's mapping; a YAML syntax error names the file, line and column.

    Snakemake's own loader says only "not valid JSON or YAML", so the Snakefile reads the
    file here first.
    """
    try:
        data = yaml.load(Path(path).read_text(), Loader=_UniqueKeys)
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason})") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
        what = " ".join(x for x in (err.context, err.problem) if x)
        raise ConfigError(f"{path}, {where}: YAML syntax error: {what}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: YAML syntax error: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return data


PRESET = r"[A-Za-z0-9][A-Za-z0-9_-]*"  # a folder (results/<preset>) and DVC's ${preset}
MAX_NAME = 64  # characters of an experiment or variant name
# Names that label other outputs of an experiment's run folder, not variants.
RESERVED = (
    "baselines",
    "features",
    "pretrained",
    "backbone",
    "notd_reference",
    "pcaae",
    "linear_probe",
    "finetuned",
)


@dataclass(frozen=True)
class Root(Spec):
    """The config file's top level."""

    preset: str = setting("demo", "the preset under `presets` to run")
    device: str = setting(
        "auto",
        "auto picks CUDA when a GPU is present, else the CPU",
        choices=("auto", "cpu", "cuda"),
    )
    deterministic: bool = setting(False, "CUDA only: deterministic kernels (slower)")
    presets: dict = setting({}, "named experiment settings", pattern=PRESET, min_items=1)
    families: tuple[str, ...] = setting((), "folders of families defined outside the package")


@dataclass(frozen=True)
class Settings:
    """The chosen preset, checked: each family's experiments as their section specs."""

    preset: str
    device: str
    deterministic: bool
    families: dict[str, Family]
    experiments: dict[str, dict[str, Any]]  # family name -> experiment name -> section spec
    figures: MaskFigure

    def of(self, family: str) -> dict[str, Any]:
        return self.experiments.get(family, {})

    def all(self) -> dict[str, Any]:
        """Every experiment of the preset, whatever its family."""
        return {k: v for exps in self.experiments.values() for k, v in exps.items()}

    def family_of(self, experiment: str) -> Family:
        return next(self.families[f] for f, e in self.experiments.items() if experiment in e)

    def notes(self) -> list[str]:
        """What the chosen preset's experiments note before a run (each wing's ``notes``)."""
        found: list[str] = []
        for family, exps in self.experiments.items():
            note = getattr(self.families[family].module("specs"), "notes", None)
            if note is not None:
                found += [n for name, e in exps.items() for n in note(name, e)]
        return found


NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def coerce(config: dict) -> list[str]:
    """Turn number-like strings into numbers (and ``"true"``/``"false"`` into booleans) where
    a spec wants one, in place; one note per value changed.

    PyYAML (YAML 1.1, used by Snakemake) reads ``1e-3`` as a string, and nested ``--config``
    overrides arrive as strings, so correct values would otherwise be refused.
    """
    notes: list[str] = []
    walk = _Coercer(notes)
    walk.mapping(config, Root, "")
    try:
        families = load_families(tuple(config.get("families") or ()))
    except ValueError:
        return notes
    for name, preset in (config.get("presets") or {}).items():
        if not isinstance(preset, dict):
            continue
        for family in families.values():
            spec = family.module("specs")
            for exp, section in (preset.get(family.section) or {}).items():
                key = f"presets.{name}.{family.section}.{exp}"
                if isinstance(section, dict):
                    walk.mapping(section, spec.EXPERIMENT, key)
                    for v, settings in (section.get("variants") or {}).items():
                        if isinstance(settings, dict):
                            walk.mapping(settings, spec.VARIANT, f"{key}.variants.{v}")
        if isinstance(preset.get("figures"), dict):
            walk.mapping(preset["figures"], MaskFigure, f"presets.{name}.figures")
    return notes


class _Coercer:
    def __init__(self, notes: list[str]) -> None:
        self.notes = notes

    def mapping(self, node: dict, cls: type, key: str) -> None:
        hints = typing.get_type_hints(cls)
        for k, v in list(node.items()):
            if k in hints:
                node[k] = self.value(v, hints[k], f"{key}.{k}" if key else str(k))

    def value(self, v: Any, tp: Any, key: str) -> Any:
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
            origin = typing.get_origin(tp)
        if dataclasses.is_dataclass(tp) and isinstance(v, dict):
            self.mapping(v, tp, key)
        elif origin is tuple and isinstance(v, list):
            return [self.value(x, typing.get_args(tp)[0], f"{key}.{i}") for i, x in enumerate(v)]
        elif isinstance(v, str) and tp in (int, float, bool):
            new = _number(v, tp)
            if new is not v:
                self.notes.append(f"config: {key} = {v!r} read as {new!r}")
            return new
        return v


def _number(text: str, tp: type) -> Any:
    t = text.strip()
    if tp is bool:
        return t.lower() == "true" if t.lower() in ("true", "false") else text
    if not NUMBER.fullmatch(t):
        return text
    if tp is int:
        return int(t) if re.fullmatch(r"[-+]?\d+", t) else text
    return float(t)


def problems(config: dict) -> list[str]:
    """Every problem of ``config`` (each preset's sections, and the chosen preset's data), one
    message each, naming the dotted key."""
    try:
        resolve(config)
    except ConfigError as err:
        return str(err).split("\n")
    return []


def resolve(config: dict) -> Settings:
    """The chosen preset's checked settings; :class:`ConfigError` lists every problem."""
    found: list[str] = []
    try:
        root = load(Root, config, "spec")
        families = load_families(root.families)
    except (SpecError, ValueError) as err:
        raise ConfigError(_config_message(err)) from None
    chosen = None
    for name, preset in root.presets.items():
        try:
            settings = _preset(root, families, name, preset)
        except ConfigError as err:
            found += str(err).split("\n")
            continue
        if name == root.preset:
            chosen = settings
    if root.preset not in root.presets:
        found.append(
            f"config: preset = {root.preset!r} is not defined; choose one of {sorted(root.presets)}"
        )
    if found:
        raise ConfigError("\n".join(found))
    return chosen


def filled(config: dict, settings: Settings) -> dict:
    """``config`` with its chosen preset written out in full (every default filled in): what
    the report's captions and the results pages read."""
    preset = {
        settings.families[f].section: {n: as_config(e) for n, e in exps.items()}
        for f, exps in settings.experiments.items()
    }
    preset["figures"] = as_config(settings.figures)
    return {**config, "presets": {**config["presets"], settings.preset: preset}}


def _config_message(err: Exception) -> str:
    """A top-level problem: ``config: device = ...`` or ``config: (top level): ...``."""
    tail = _tail(err) if isinstance(err, SpecError) else ": " + str(err)
    return "config: " + (tail[1:] if tail.startswith(".") else "(top level)" + tail)


def _preset(root: Root, families: dict[str, Family], name: str, preset: Any) -> Settings:
    key = f"presets.{name}"
    if not isinstance(preset, dict):
        raise ConfigError(f"config: {key}: expected a mapping of families and figures")
    sections = {f.section: f for f in families.values()}
    unknown = sorted(set(preset) - set(sections) - {"figures"})
    if unknown:
        allowed = sorted([*sections, "figures"])
        raise ConfigError(f"config: {key}: unknown key(s) {unknown}; allowed keys: {allowed}")
    found, experiments = [], {}
    for section, family in sections.items():
        spec = family.module("specs")
        for exp, data in (preset.get(section) or {}).items():
            where = f"{key}.{section}.{exp}"
            try:
                _check(
                    re.fullmatch(r"[a-z][a-z0-9_]*", str(exp)) is not None,
                    "name",
                    exp,
                    "a name of lowercase letters, digits and _",
                )
                parsed = load(spec.EXPERIMENT, data, "spec")
                for v in parsed.variants:
                    _check(
                        v not in RESERVED and not re.fullmatch(r"fixed\d+", v),
                        f"variants.{v}",
                        v,
                        "a name that is not reserved (fixed<width> "
                        f"variants come from fixed_widths; {list(RESERVED)} name outputs)",
                    )
                    _check(len(v) <= MAX_NAME, f"variants.{v}", v, f"at most {MAX_NAME} characters")
                spec.job_specs(exp, parsed)
            except SpecError as err:
                found.append(f"config: {where}" + _tail(err))
                continue
            experiments.setdefault(family.name, {})[exp] = parsed
    try:
        figures = load(MaskFigure, preset.get("figures") or {}, "spec")
    except SpecError as err:
        found.append(f"config: {key}.figures" + _tail(err))
    if name == root.preset:  # the data of the preset that runs must be there
        found += _sources(name, families, experiments)
    found += _shared(experiments, families, key)
    if found:
        raise ConfigError("\n".join(found))
    return Settings(name, root.device, root.deterministic, families, experiments, figures)


def has_data(exp: Any) -> bool:
    """Whether an experiment reads a stored dataset (a family whose experiments make their own
    data, e.g. by acting in an environment, has no ``dataset`` setting)."""
    return getattr(exp, "dataset", None) is not None


def _tail(err: SpecError) -> str:
    """The message after its key's ``spec`` prefix: ``.latent = ...`` or ``: unknown ...``."""
    rest, keyed = strip_spec(str(err))
    return "." + rest if keyed else ": " + rest


def _shared(experiments: dict, families: dict[str, Family], key: str) -> list[str]:
    """Across experiments: unique names, and one split per dataset (it is stored once)."""
    out, seen_names = [], {}
    first: dict[str, tuple[str, dict]] = {}
    names = sorted(n for exps in experiments.values() for n in exps)
    stems = [s for f in families.values() for s in f.stems]
    for a in names:
        # Output names are <experiment>_<stem>: "x" and "x_reconstructions" would collide.
        clash = [b for b in names if any(b.startswith(f"{a}_{s}") for s in stems)]
        if clash:
            out.append(
                f"config: {key}: experiment names {a!r} and {clash[0]!r} make output file "
                f"names ambiguous (one is the other plus _...); rename one"
            )
        if len(a) > MAX_NAME:  # file names of up to 255 bytes hold <experiment>_<variant>_...
            out.append(
                f"config: {key}: experiment name {a[:20]!r}... has {len(a)} characters; "
                f"at most {MAX_NAME} (file names beside it must stay under 255 bytes)"
            )
    for fam, exps in experiments.items():
        section = families[fam].section
        for name, exp in exps.items():
            if name in seen_names:
                out.append(
                    f"config: {key}: experiment {name!r} is in {seen_names[name]} and "
                    f"{section}; experiment names must be unique"
                )
            seen_names[name] = section
            if not has_data(exp):
                continue
            split = {k: getattr(exp, k) for k in SPLIT_KEYS}
            seen = first.setdefault(exp.dataset, (f"{section}.{name}", split))
            diff = [k for k in SPLIT_KEYS if split[k] != seen[1][k]]
            if diff:
                out.append(
                    f"config: {key}.{section}.{name}: dataset {exp.dataset!r} is "
                    f"stored once per preset, but its {diff} differ from "
                    f"{key}.{seen[0]}; make them equal"
                )
    return out


def _sources(preset: str, families: dict[str, Family], experiments: dict) -> list[str]:
    """`source: local` and `auto` read `path:`; local needs the folder to exist."""
    out = []
    for fam, exps in experiments.items():
        for name, exp in exps.items():
            key = f"presets.{preset}.{families[fam].section}.{name}"
            if not has_data(exp):
                continue
            if exp.source in ("local", "auto") and not exp.path:
                out.append(
                    f"config: {key}: `source: {exp.source}` needs `path:` (the dataset's folder)"
                )
            elif exp.source == "local" and not Path(exp.path).is_dir():
                out.append(
                    f"config: {key}.path = {exp.path!r} is not a folder; "
                    "point it at the dataset's files or use `source: download` or `auto`"
                )
    return out
