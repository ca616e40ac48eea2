"""Checks of the pipeline's config against its schema, with messages a person can act on.

Each problem names the key (as a dotted path), the bad value and what is allowed, so a typo
fails before any job runs. The Snakefile calls :func:`problems` on the loaded config.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError


def load_schema(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def problems(config: dict, schema: dict) -> list[str]:
    """Every schema violation and cross-key inconsistency of ``config``, one message each."""
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.path])
    found = [_explain(e) for e in errors]
    if not found:
        found = _consistency(config)
    return found


def _explain(e: ValidationError) -> str:
    key = ".".join(str(p) for p in e.absolute_path) or "(top level)"
    v, value = e.validator_value, e.instance
    allowed = {
        "enum": lambda: f"one of {v}",
        "type": lambda: f"a value of type {v}",
        "minimum": lambda: f"a number >= {v}",
        "exclusiveMinimum": lambda: f"a number > {v}",
        "maximum": lambda: f"a number <= {v}",
        "exclusiveMaximum": lambda: f"a number < {v}",
        "minItems": lambda: f"a list of at least {v} item(s)",
        "minProperties": lambda: f"at least {v} entry(ies)",
        "uniqueItems": lambda: "a list without repeated items",
        "pattern": lambda: f"a string matching {v}",
    }
    if e.validator == "additionalProperties":
        known = sorted(e.schema.get("properties", {}))
        extra = sorted(set(value) - set(known))
        return f"config: {key}: unknown key(s) {extra}; allowed keys: {known}"
    if e.validator == "required":
        return f"config: {key}: {e.message}"
    if "propertyNames" in e.relative_schema_path:
        return f"config: {key}: bad name {value!r}; names must match {v}"
    what = allowed.get(str(e.validator), lambda: e.message)()
    desc = e.schema.get("description")
    return f"config: {key} = {_short(value)} is not allowed; expected {what}" + (
        f" ({desc})" if desc else ""
    )


def _consistency(config: dict) -> list[str]:
    """Rules the schema cannot state: the chosen preset exists, widths fit their layers."""
    out = []
    preset = config["preset"]
    if preset not in config["presets"]:
        return [
            f"config: preset = {preset!r} is not defined; choose one of {sorted(config['presets'])}"
        ]
    out += _shared(config["presets"][preset], f"presets.{preset}")
    for name, spec in config["presets"][preset].get("autoencoders", {}).items():
        key = f"presets.{preset}.autoencoders.{name}"
        if spec.get("source") == "local":
            path = spec.get("path")
            if not path:
                out.append(f"config: {key}: `source: local` needs `path:` (the dataset's folder)")
            elif not Path(path).is_dir():
                out.append(
                    f"config: {key}.path = {path!r} is not a folder; "
                    "point it at the dataset's files or use `source: download`"
                )
        if "pcaae_widths" in spec and spec.get("arch", "mlp") != "mlp":
            out.append(f"config: {key}.pcaae_widths: PCAAE is built for MLP autoencoders only")
        if spec.get("pcaae_widths", 0) > spec["latent"]:
            out.append(
                f"config: {key}.pcaae_widths = {spec['pcaae_widths']}: width larger than the "
                f"latent layer (latent: {spec['latent']})"
            )
        for field in ("recon_widths", "headline_widths", "fixed_widths"):
            too_wide = [w for w in spec.get(field, []) if w > spec["latent"]]
            if too_wide:
                out.append(
                    f"config: {key}.{field} = {too_wide}: width larger than the latent "
                    f"layer (latent: {spec['latent']})"
                )
    for name, spec in config["presets"][preset].get("heads", {}).items():
        key = f"presets.{preset}.heads.{name}"
        for field in ("widths", "fixed_widths"):
            too_wide = [w for w in spec[field] if w > spec["hidden"]]
            if too_wide:
                out.append(
                    f"config: {key}.{field} = {too_wide}: width larger than the hidden "
                    f"layers (hidden: {spec['hidden']})"
                )
        if spec["dataset"] == "imagenet" and "imagenet" not in spec:
            out.append(f"config: {key}: dataset imagenet needs an `imagenet:` section")
        if spec["reference"] == "pretrained" and spec["dataset"] != "imagenet":
            out.append(
                f"config: {key}.reference = 'pretrained' needs dataset imagenet "
                f"(got {spec['dataset']!r})"
            )
    return out


# Names that label other outputs of an experiment's run folder, not variants.
RESERVED = ("baselines", "features", "pretrained", "notd_reference", "pcaae")
SPLIT_KEYS = ("source", "path", "test_fraction", "split_seed", "max_train", "max_test")


def _shared(preset: dict, key: str) -> list[str]:
    """Across experiments: unique names, and one split per dataset (it is stored once)."""
    out = []
    aes, heads = preset.get("autoencoders", {}), preset.get("heads", {})
    for name in sorted(set(aes) & set(heads)):
        out.append(
            f"config: {key}: experiment {name!r} is both an autoencoder and a head; "
            "experiment names must be unique"
        )
    first: dict[str, tuple[str, dict]] = {}
    for family, section in (("autoencoders", aes), ("heads", heads)):
        for name, spec in section.items():
            for variant in spec.get("variants", {}):
                if variant in RESERVED or re.fullmatch(r"fixed\d+", variant):
                    out.append(
                        f"config: {key}.{family}.{name}.variants.{variant}: reserved "
                        "name (fixed<width> variants come from fixed_widths)"
                    )
            split = {k: spec.get(k) for k in SPLIT_KEYS}
            seen = first.setdefault(spec["dataset"], (f"{family}.{name}", split))
            diff = [k for k in SPLIT_KEYS if split[k] != seen[1][k]]
            if diff:
                out.append(
                    f"config: {key}.{family}.{name}: dataset {spec['dataset']!r} is "
                    f"stored once per preset, but its {diff} differ from "
                    f"{key}.{seen[0]}; make them equal"
                )
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
