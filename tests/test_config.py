"""Bad configs are refused before any job runs, with the key, the value and what is allowed."""

import copy

import pytest
import yaml

from conftest import ROOT
from failures import Failure
from tridrop.config import load_schema, problems

SCHEMA = load_schema(ROOT / "workflow/schemas/config.schema.yaml")
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
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    node.update(also)
    return c


AE = "presets.demo.autoencoders.digits"
KEPT = "nothing ran; no file written"


def bad(config: dict, key: str, seen: str) -> tuple[dict, Failure]:
    return config, Failure("config", key, seen, KEPT)


BAD = [
    bad(with_("device", "tpu"), "`device: tpu`",
        "device = 'tpu' is not allowed; expected one of ['auto', 'cpu', 'cuda']"),
    bad(with_("preset", "papr"), "`preset: papr` (unknown preset)",
        "preset = 'papr' is not defined; choose one of ['demo'"),
    bad(with_("preset", 3), "`preset: 3`", "preset = 3 is not allowed; expected a value of type string"),
    bad(with_("colour", "blue"), "unknown top-level key `colour`",
        "(top level): unknown key(s) ['colour']; allowed keys: ['deterministic', 'device', 'preset', 'presets']"),
    bad(with_(f"{AE}.latent", -4), "negative latent width",
        f"{AE}.latent = -4 is not allowed; expected a number >= 1 (latent width W"),
    bad(with_(f"{AE}.latent", "16"), "latent width as a string",
        f"{AE}.latent = '16' is not allowed; expected a value of type integer"),
    bad(with_(f"{AE}.latent", 4.5), "fractional latent width",
        f"{AE}.latent = 4.5 is not allowed; expected a value of type integer"),
    bad(with_(f"{AE}.batch_size", 0), "batch size 0",
        f"{AE}.batch_size = 0 is not allowed; expected a number >= 1"),
    bad(with_(f"{AE}.epochs", 0), "0 epochs", f"{AE}.epochs = 0 is not allowed; expected a number >= 1"),
    bad(with_(f"{AE}.lr", 0), "learning rate 0", f"{AE}.lr = 0 is not allowed; expected a number > 0"),
    bad(with_(f"{AE}.weight_decay", -0.1), "negative weight decay",
        f"{AE}.weight_decay = -0.1 is not allowed; expected a number >= 0"),
    bad(with_(f"{AE}.test_fraction", 1.5), "test fraction 1.5",
        f"{AE}.test_fraction = 1.5 is not allowed; expected a number < 1"),
    bad(with_(f"{AE}.seeds", []), "empty seed list",
        f"{AE}.seeds = [] is not allowed; expected a list of at least 1 item"),
    bad(with_(f"{AE}.seeds", [0, 0]), "repeated seed",
        f"{AE}.seeds = [0, 0] is not allowed; expected a list without repeated items"),
    bad(with_(f"{AE}.seeds", [-1]), "negative seed",
        f"{AE}.seeds.0 = -1 is not allowed; expected a number >= 0"),
    bad(with_(f"{AE}.dataset", "mnits"), "misspelt dataset `mnits`",
        f"{AE}.dataset = 'mnits' is not allowed; expected one of ["),
    bad(with_(f"{AE}.variants", {"td": {"mode": "triangel"}}), "unknown dropout mode `triangel`",
        f"{AE}.variants.td.mode = 'triangel' is not allowed; expected one of ['triangle', 'random'"),
    bad(with_(f"{AE}.variants", {"td": {"mode": "nested", "p": 1.5}}), "nested dropout p = 1.5",
        f"{AE}.variants.td.p = 1.5 is not allowed; expected a number <= 1"),
    bad(with_(f"{AE}.variants", {}), "no model variants",
        f"{AE}.variants = {{}} is not allowed; expected at least 1 entr"),
    bad(with_(f"{AE}.variants", {"TD!": {"mode": "none"}}), "variant name `TD!`",
        f"{AE}.variants: bad name 'TD!'; names must match"),
    bad(with_(f"{AE}.recon_widths", [1, 99]), "figure width larger than the layer",
        f"{AE}.recon_widths = [99]: width larger than the latent layer (latent: 16)"),
    bad(with_(f"{AE}.headline_widths", [17]), "metric width larger than the layer",
        f"{AE}.headline_widths = [17]: width larger than the latent layer (latent: 16)"),
    bad(with_(f"{AE}.pcaae_widths", 17), "PCAAE wider than the latent layer",
        f"{AE}.pcaae_widths = 17: width larger than the latent layer (latent: 16)"),
    bad(with_(f"{AE}.pcaae_widths", 4, arch="conv"), "PCAAE on a conv autoencoder",
        f"{AE}.pcaae_widths: PCAAE is built for MLP autoencoders only"),
    bad(with_(f"{AE}.hidden", ...), "missing key `hidden`", f"{AE}: 'hidden' is a required property"),
    bad(with_("deterministic", "yes"), "`deterministic: yes` (a string)",
        "deterministic = 'yes' is not allowed; expected a value of type boolean"),
    bad(with_(f"{AE}.source", "local"), "`source: local` without `path`",
        f"{AE}: `source: local` needs `path:` (the dataset's folder)"),
    bad(with_(f"{AE}.path", "/no/such/mnist", source="local"), "dataset path that does not exist (with `source: local`)",
        f"{AE}.path = '/no/such/mnist' is not a folder"),
    bad(with_("presets", {}), "no presets", "presets = {} is not allowed; expected at least 1 entr"),
    bad(with_("presets.demo.figures.mask_width", 0), "mask figure width 0",
        "figures.mask_width = 0 is not allowed; expected a number >= 1"),
]  # fmt: skip
FAILURES = [f for _, f in BAD]


def test_the_committed_config_is_valid():
    assert problems(CONFIG, SCHEMA) == []


@pytest.mark.parametrize(("config", "case"), BAD, ids=[f.input for f in FAILURES])
def test_bad_config_is_explained(config, case):
    found = problems(config, SCHEMA)
    assert found, "the bad config was accepted"
    assert case.seen in "\n".join(found)


def test_every_schema_key_is_described():
    def walk(node, path):
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                assert "description" in sub or "$ref" in sub or sub.get("type") == "object", (
                    f"{path}.{key} has no description"
                )
            for key, sub in node.items():
                walk(sub, f"{path}.{key}")

    walk(SCHEMA, "schema")
