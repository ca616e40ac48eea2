"""Bad configs are refused before any job runs, with the key, the value and what is allowed."""

import copy
import dataclasses

import pytest
import yaml

from conftest import ROOT
from failures import Failure
from tridrop.config import ConfigError, coerce, problems, read
from tridrop.registry import FAMILIES
from tridrop.specs import defaults, doc

CONFIG = yaml.safe_load((ROOT / "config/config.yaml").read_text())


def digits(c):
    return c["presets"]["demo"]["autoencoders"]["digits"]


def with_(path: str, value, **also):
    """A copy of the config with the dotted key ``path`` set to ``value`` (or deleted: ...).

    ``also``: more keys to set beside it, in the same mapping.
    """
    c = copy.deepcopy(CONFIG)
    *parents, last = path.split(".")
    node = c
    for key in parents:
        node = node.setdefault(key, {})
    if value is ...:
        del node[last]
    else:
        node[last] = value
    node.update(also)
    return c


AE = "presets.demo.autoencoders.digits"
HEAD = "presets.demo.heads.digits_head"
KEPT = "nothing ran; no file written"


def renamed(preset: str, name: str) -> dict:
    c = copy.deepcopy(CONFIG)
    c["presets"][name] = c["presets"].pop(preset)
    c["preset"] = name
    return c


def renamed_experiment(old: str, new: str) -> dict:
    c = copy.deepcopy(CONFIG)
    aes = c["presets"]["demo"]["autoencoders"]
    aes[new] = aes.pop(old)
    return c


def bad(config: dict, key: str, seen: str) -> tuple[dict, Failure]:
    return config, Failure("config", key, seen, KEPT)


BAD = [
    bad(with_("device", "tpu"), "`device: tpu`",
        "device = 'tpu' is not allowed; expected one of ['auto', 'cpu', 'cuda']"),
    bad(with_("preset", "papr"), "`preset: papr` (unknown preset)",
        "preset = 'papr' is not defined; choose one of ['control', 'control_mujoco', 'control_ppo'"),
    bad(with_("preset", 3), "`preset: 3`", "preset = 3 is not allowed; expected a string"),
    bad(with_("colour", "blue"), "unknown top-level key `colour`",
        "(top level): unknown key(s) ['colour']; allowed: ['deterministic', 'device', 'families', 'preset', 'presets']"),
    bad(with_(f"{AE}.latent", -4), "negative latent width",
        f"{AE}.latent = -4 is not allowed; expected an integer >= 2"),
    bad(with_(f"{AE}.latent", "16 units"), "latent width as a string that is not a number",
        f"{AE}.latent = '16 units' is not allowed; expected an integer"),
    bad(with_(f"{AE}.latent", 4.5), "fractional latent width",
        f"{AE}.latent = 4.5 is not allowed; expected an integer"),
    bad(with_(f"{AE}.batch_size", 0), "batch size 0",
        f"{AE}.batch_size = 0 is not allowed; expected an integer >= 1"),
    bad(with_(f"{AE}.epochs", 0), "0 epochs", f"{AE}.epochs = 0 is not allowed; expected an integer >= 1"),
    bad(with_(f"{AE}.lr", 0), "learning rate 0", f"{AE}.lr = 0.0 is not allowed; expected a number > 0"),
    bad(with_(f"{AE}.weight_decay", -0.1), "negative weight decay",
        f"{AE}.weight_decay = -0.1 is not allowed; expected a number >= 0"),
    bad(with_(f"{AE}.test_fraction", 1.5), "test fraction 1.5",
        f"{AE}.test_fraction = 1.5 is not allowed; expected a number in (0, 1)"),
    bad(with_(f"{AE}.seeds", []), "empty seed list",
        f"{AE}.seeds = [] is not allowed; expected at least 1 item(s)"),
    bad(with_(f"{AE}.seeds", [0, 0]), "repeated seed",
        f"{AE}.seeds = [0, 0] is not allowed; expected a list without repeated items"),
    bad(with_(f"{AE}.seeds", [-1]), "negative seed",
        f"{AE}.seeds[0] = -1 is not allowed; expected an integer >= 0"),
    bad(with_(f"{AE}.dataset", "mnits"), "misspelt dataset `mnits`",
        f"{AE}.dataset = 'mnits' is not allowed; expected one of ["),
    bad(with_(f"{AE}.variants", {"td": {"mode": "triangel"}}), "unknown dropout mode `triangel`",
        f"{AE}.variants.td.mode = 'triangel' is not allowed; expected one of ['triangle', 'random'"),
    bad(with_(f"{AE}.variants", {"td": {"mode": "nested", "p": 1.5}}), "nested dropout p = 1.5",
        f"{AE}.variants.td.p = 1.5 is not allowed; expected a number in (0, 1]"),
    bad(with_(f"{AE}.variants", {"td": {"mode": "triangle", "lattent": 4}}), "a variant setting that does not exist",
        f"{AE}.variants.td: unknown key(s) ['lattent']; allowed: ['mode', 'p', 'full'"),
    bad(with_(f"{AE}.variants", {}), "no model variants",
        f"{AE}.variants = {{}} is not allowed; expected at least 1 item(s)"),
    bad(with_(f"{AE}.variants", {"TD!": {"mode": "none"}}), "variant name `TD!`",
        f"{AE}.variants: bad name 'TD!'; names must match"),
    bad(with_(f"{AE}.variants", {"td": {"mode": "triangle"}, "fixed4": {"mode": "none"}}), "a variant named like a fixed-width baseline",
        f"{AE}.variants.fixed4 = 'fixed4' is not allowed; expected a name that is not reserved"),
    bad(with_(f"{AE}.recon_widths", [1, 99]), "figure width larger than the layer",
        f"{AE}.recon_widths = [99] is not allowed; expected widths up to the latent layer (16)"),
    bad(with_(f"{AE}.headline_widths", [17]), "metric width larger than the layer",
        f"{AE}.headline_widths = [17] is not allowed; expected widths up to the latent layer (16)"),
    bad(with_(f"{AE}.pcaae_widths", 17), "PCAAE wider than the latent layer",
        f"{AE}.pcaae_widths = 17 is not allowed; expected a width up to latent (16)"),
    bad(with_(f"{AE}.pcaae_widths", 4, arch="conv"), "PCAAE on a conv autoencoder",
        f"{AE}.pcaae_widths = 4 is not allowed; expected PCAAE on an MLP only"),
    bad(with_(f"{AE}.dataset", ...), "missing key `dataset`", f"{AE}: missing required key 'dataset'"),
    bad(with_(f"{AE}.claims", {"ordered_pairz": -0.8}), "a misspelt claim threshold",
        f"{AE}.claims: unknown key(s) ['ordered_pairz']"),
    bad(with_("deterministic", "yes"), "`deterministic: yes` (a string)",
        "deterministic = 'yes' is not allowed; expected true or false"),
    bad(with_(f"{AE}.source", "local"), "`source: local` without `path`",
        f"{AE}: `source: local` needs `path:` (the dataset's folder)"),
    bad(with_(f"{AE}.path", "/no/such/mnist", source="local"), "dataset path that does not exist (with `source: local`)",
        f"{AE}.path = '/no/such/mnist' is not a folder"),
    bad(with_("presets", {}), "no presets", "presets = {} is not allowed; expected at least 1 item(s)"),
    bad(with_("presets.demo.figures.mask_width", 0), "mask figure width 0",
        "figures.mask_width = 0 is not allowed; expected an integer >= 1"),
    bad(with_(f"{AE}.hidden", 0), "`hidden: 0` on an MLP autoencoder (trains a constant model)",
        f"{AE}.hidden = 0 is not allowed; expected >= 1 for an MLP"),
    bad(with_(f"{HEAD}.hidden", 0), "`hidden: 0` on a classifier head",
        f"{HEAD}.hidden = 0 is not allowed; expected an integer >= 1"),
    bad(with_(f"{AE}.batch_size", 8), "batch size smaller than the latent width (TD silently weakened)",
        f"{AE}.variants.td.train.batch_size = 8 is not allowed; expected at least model.latent = 16 in "
        "mode triangle (a smaller batch trains only 8 of the 16 widths)"),
    bad(with_(f"{AE}.latent", 1, recon_widths=[1], headline_widths=[1], fixed_widths=[1]),
        "`latent: 1` (NaN or 0/0 in the claims after training)",
        f"{AE}.latent = 1 is not allowed; expected an integer >= 2"),
    bad(renamed("demo", "my demo"), "a preset name with a space",
        "presets: bad name 'my demo'; names must match"),
    bad(renamed("demo", "a/b"), "a preset name with a slash", "presets: bad name 'a/b'; names must match"),
    bad(with_(f"{AE}.variants", {"notd": {"mode": "none"}}), "an autoencoder without a `td` variant (its claims failed after training)",
        f"{AE}.variants = ['notd'] is not allowed; expected a `td` variant, the one its claims measure"),
    bad(renamed_experiment("digits", "digits_head_accuracy_vs_params"), "experiments `x` and `x_accuracy_vs_params` (Snakemake's rules were ambiguous)",
        "experiment names 'digits_head' and 'digits_head_accuracy_vs_params' make output file names ambiguous"),
    bad(renamed_experiment("digits", "d" * 240), "a 240-character experiment name (training wrote its model, then its log path failed)",
        "has 240 characters; at most 64 (file names beside it must stay under 255 bytes)"),
    bad(with_(f"{HEAD}.variants", {"td": {"mode": "triangle"}, "notd": {"mode": "none", "init": "reference"}}),
        "a `notd` head starting from the reference when the reference is trained here (the notd head itself)",
        f"{HEAD}.variants.notd.init = 'reference' is not allowed; expected scratch with reference train"),
    bad(with_(f"{HEAD}.claims.model", "tdd"), "`claims.model` naming no variant",
        f"{HEAD}.claims.model = 'tdd' is not allowed; expected a variant, one of ['td', 'td_scratch']"),
]  # fmt: skip
FAILURES = [f for _, f in BAD]
FAILURES += [
    Failure("config", "a YAML syntax error in config/config.yaml (`latent: 16: 32` on line 3)",
            "config.yaml, line 3, column 11: YAML syntax error: mapping values are not allowed here", KEPT),
    Failure("config", "`lr: 1e-3` (PyYAML reads a string) or nested `--config` overrides (strings)",
            f"config: {AE}.lr = '1e-3' read as 0.001",
            "accepted as numbers (and `true`/`false` as booleans); the run goes on"),
]  # fmt: skip
DUPLICATE = Failure("config", "a key given twice in config/config.yaml (the last one won silently)",
                    "YAML syntax error: duplicate key 'device' (the first would be ignored)", KEPT)  # fmt: skip


def test_the_committed_config_is_valid():
    assert problems(CONFIG) == []


@pytest.mark.parametrize(("config", "case"), BAD, ids=[f.input for _, f in BAD])
def test_bad_config_is_explained(config, case):
    found = problems(config)
    assert found, "the bad config was accepted"
    assert case.seen in "\n".join(found)


def test_every_setting_is_described_once():
    """Each setting of an experiment section has a one-line doc, in its wing's specs only."""
    for family in FAMILIES.values():
        spec = family.module("specs")
        for cls in (spec.EXPERIMENT, spec.VARIANT):
            for f in dataclasses.fields(cls):
                if dataclasses.is_dataclass(f.type) or f.name in ("claims", "backbone", "imagenet"):
                    continue
                assert doc(cls, f.name), f"{family.name}: {cls.__name__}.{f.name} has no doc"


def test_presets_hold_only_what_differs():
    """No preset restates a default (variants' modes excepted: they name the variant) and no
    value is a placeholder marked unused."""
    restated = []
    for name, preset in CONFIG["presets"].items():
        for family in FAMILIES.values():
            cls = family.module("specs").EXPERIMENT
            for exp, section in preset.get(family.section, {}).items():
                default = defaults(cls)
                for key, value in section.items():
                    if key == "variants":
                        continue
                    if isinstance(value, dict):
                        restated += [
                            f"{name}.{exp}.{key}.{k}"
                            for k, v in value.items()
                            if (default.get(key) or {}).get(k) == v
                        ]
                    elif default.get(key) == value:
                        restated.append(f"{name}.{exp}.{key}")
    assert restated == [], restated
    assert "unused" not in (ROOT / "config/config.yaml").read_text()


def test_every_committed_preset_is_valid():
    for name in CONFIG["presets"]:
        assert problems(with_("preset", name)) == [], name


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("preset: demo\ndevice: auto\nlatent: 16: 32\n")
    with pytest.raises(ConfigError) as err:
        read(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)
    assert FAILURES[-3].seen in str(err.value)
    assert "mapping values are not allowed here" in str(err.value)


def test_a_key_given_twice_is_refused(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("preset: demo\ndevice: auto\ndevice: cpu\n")
    with pytest.raises(ConfigError) as err:
        read(path)
    assert DUPLICATE.seen in str(err.value) and "line 3" in str(err.value)


FAILURES.append(DUPLICATE)


def test_merge_keys_override_and_repeats_are_still_refused(tmp_path):
    """``<<: *anchor`` copies a section (the fashion_hard backbones); own keys win; a key
    repeated among a mapping's own keys is still refused."""
    path = tmp_path / "config.yaml"
    path.write_text("a: &a {x: 1, y: 2}\nb:\n  <<: *a\n  y: 3\n")
    assert read(path) == {"a": {"x": 1, "y": 2}, "b": {"x": 1, "y": 3}}
    path.write_text("a: &a {x: 1}\nb:\n  <<: *a\n  y: 3\n  y: 4\n")
    with pytest.raises(ConfigError, match="duplicate key 'y'"):
        read(path)


def test_number_strings_are_read_as_numbers(tmp_path):
    """`lr: 1e-3` in the file, and nested --config overrides (Snakemake parses them with YAML's
    BaseLoader, so every value is a string) are numbers after :func:`coerce`."""
    path = tmp_path / "config.yaml"
    path.write_text(
        (ROOT / "config/config.yaml")
        .read_text()
        .replace("epochs: 150\n", "epochs: 150\n        lr: 1e-3\n")
    )
    config = read(path)
    assert digits(config)["lr"] == "1e-3"  # PyYAML, YAML 1.1
    notes = coerce(config)
    assert FAILURES[-2].seen in notes and digits(config)["lr"] == 0.001
    assert problems(config) == []
    override = yaml.load(
        "{demo: {autoencoders: {digits: {epochs: 5, seeds: [0, 1], test_fraction: .2}}}}",
        Loader=yaml.BaseLoader,
    )
    config = copy.deepcopy(CONFIG)
    digits(config).update(override["demo"]["autoencoders"]["digits"])
    config["deterministic"] = "true"
    assert digits(config)["epochs"] == "5"
    coerce(config)
    assert problems(config) == []
    assert (digits(config)["epochs"], digits(config)["seeds"]) == (5, [0, 1])
    assert digits(config)["test_fraction"] == 0.2 and config["deterministic"] is True
    # Strings that are not numbers stay strings (and are refused with their key).
    config = with_(f"{AE}.latent", "sixteen")
    assert coerce(config) == [] and problems(config)
