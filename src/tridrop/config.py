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


class ConfigError(ValueError):
    """A config file that cannot be read, or a config that breaks a rule; names file or key."""


def load_schema(path: str | Path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def read(path: str | Path) -> dict:
    """The config file's mapping; a YAML syntax error names the file, line and column.

    Snakemake's own loader says only "not valid JSON or YAML", so the Snakefile reads the
    file here first.
    """
    try:
        data = yaml.safe_load(Path(path).read_text())
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


NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def coerce(config: dict, schema: dict) -> list[str]:
    """Turn number-like strings into numbers (and ``"true"``/``"false"`` into booleans) where
    the schema wants one, in place; one note per value changed.

    PyYAML (YAML 1.1, used by Snakemake) reads ``1e-3`` as a string, and nested ``--config``
    overrides arrive as strings, so correct values would otherwise be refused.
    """
    notes: list[str] = []

    def resolve(node: dict) -> dict:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        return node

    def convert(value: Any, node: dict) -> Any:
        types = node.get("type", [])
        types = [types] if isinstance(types, str) else types
        text = value.strip()
        if "boolean" in types and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if not NUMBER.fullmatch(text):
            return value
        number = float(text)
        if "integer" in types and number.is_integer() and re.fullmatch(r"[-+]?\d+", text):
            return int(text)
        if "number" in types:
            return number
        return value

    def walk(node: Any, sub: dict, key: str) -> None:
        sub = resolve(sub)
        if isinstance(node, dict):
            props = sub.get("properties", {})
            extra = sub.get("additionalProperties")
            for k in node:
                child = props.get(k, extra if isinstance(extra, dict) else None)
                if child is None:
                    continue
                child = resolve(child)
                path = f"{key}.{k}" if key else str(k)
                if isinstance(node[k], str):
                    new = convert(node[k], child)
                    if new is not node[k]:
                        notes.append(f"config: {path} = {node[k]!r} read as {new!r}")
                        node[k] = new
                else:
                    walk(node[k], child, path)
        elif isinstance(node, list) and isinstance(sub.get("items"), dict):
            for i, item in enumerate(node):
                if isinstance(item, str):
                    new = convert(item, resolve(sub["items"]))
                    if new is not item:
                        notes.append(f"config: {key}.{i} = {item!r} read as {new!r}")
                        node[i] = new
                else:
                    walk(item, sub["items"], f"{key}.{i}")

    walk(config, schema, "")
    return notes


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
    for family in ("autoencoders", "heads"):
        for name, spec in config["presets"][preset].get(family, {}).items():
            out += _source(spec, f"presets.{preset}.{family}.{name}")
    for name, spec in config["presets"][preset].get("autoencoders", {}).items():
        key = f"presets.{preset}.autoencoders.{name}"
        if spec.get("arch", "mlp") == "mlp" and spec["hidden"] < 1:
            out.append(
                f"config: {key}.hidden = {spec['hidden']} is not allowed for arch mlp; expected "
                "a number >= 1 (hidden units of the encoder and decoder; only conv ignores it)"
            )
        out += _batch_covers_latent(spec, key)
        if "td" not in spec["variants"]:
            # Found by its claims job only, after every model had trained: say so up front.
            out.append(
                f"config: {key}.variants has no `td`, the variant its claims measure; add "
                f"e.g. `td: {{mode: triangle}}` (variants: {sorted(spec['variants'])})"
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
        model = spec["claims"]["model"]
        if model not in spec["variants"]:
            out.append(
                f"config: {key}.claims.model = {model!r} names no variant of this experiment; "
                f"choose one of {sorted(spec['variants'])}"
            )
        if spec["dataset"] == "imagenet" and "imagenet" not in spec:
            out.append(f"config: {key}: dataset imagenet needs an `imagenet:` section")
        if spec["reference"] == "pretrained" and spec["dataset"] != "imagenet":
            out.append(
                f"config: {key}.reference = 'pretrained' needs dataset imagenet "
                f"(got {spec['dataset']!r})"
            )
        if spec["reference"] == "backbone" and "backbone" not in spec:
            out.append(f"config: {key}.reference = 'backbone' needs a `backbone:` section")
        if "backbone" in spec and spec["dataset"] in ("digits", "imagenet"):
            out.append(
                f"config: {key}.backbone: a backbone is trained on mnist or fashion_mnist "
                f"images, not {spec['dataset']!r}"
            )
    return out


def _source(spec: dict, key: str) -> list[str]:
    """`source: local` and `auto` read `path:`; local needs the folder to exist."""
    source, path = spec.get("source"), spec.get("path")
    if source in ("local", "auto") and not path:
        return [f"config: {key}: `source: {source}` needs `path:` (the dataset's folder)"]
    if source == "local" and not Path(path).is_dir():
        return [
            f"config: {key}.path = {path!r} is not a folder; "
            "point it at the dataset's files or use `source: download` or `auto`"
        ]
    return []


def _batch_covers_latent(spec: dict, key: str) -> list[str]:
    """A triangle batch of B samples trains only B of the latent's W widths when B < W.

    Sample i keeps ``ceil((i + 1) * W / B)`` units (:mod:`tridrop.dropout`): batch 1 keeps every
    unit (no TD at all), batch 2 on a latent of 4 trains widths 2 and 4 only.
    """
    batch, latent = spec["batch_size"], spec["latent"]
    triangle = [n for n, v in spec["variants"].items() if v["mode"] == "triangle"]
    if not triangle or batch >= latent:
        return []
    trained = sorted({-(-(i + 1) * latent // batch) for i in range(batch)})
    parts = [str(w) for w in trained]
    shown = ", ".join(parts if len(parts) <= 8 else [*parts[:4], "...", *parts[-2:]])
    return [
        f"config: {key}.batch_size = {batch} is smaller than the latent width ({latent}): "
        f"mode triangle (variants {triangle}) would train only widths {shown} of 1..{latent}; use "
        f"batch_size >= {latent} (a multiple of it trains every width equally often)"
    ]


# Names that label other outputs of an experiment's run folder, not variants.
RESERVED = ("baselines", "features", "pretrained", "backbone", "notd_reference", "pcaae")
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
