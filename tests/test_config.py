"""Bad configs are refused before any job runs, with the key, the value and what is allowed."""

import copy

import pytest
import yaml

from conftest import ROOT
from tridrop.config import load_schema, problems

SCHEMA = load_schema(ROOT / "workflow/schemas/config.schema.yaml")
CONFIG = yaml.safe_load((ROOT / "config/config.yaml").read_text())


def digits(c):
    return c["presets"]["demo"]["autoencoders"]["digits"]


def with_(path: str, value):
    """A copy of the config with the dotted key ``path`` set to ``value`` (or deleted: ...)."""
    c = copy.deepcopy(CONFIG)
    *parents, last = path.split(".")
    node = c
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return c


AE = "presets.demo.autoencoders.digits"
BAD = [
    # (config, words the message must contain)
    (with_("device", "tpu"), ["device = 'tpu'", "one of ['auto', 'cpu', 'cuda']"]),
    (with_("preset", "papr"), ["preset = 'papr' is not defined", "['demo']"]),
    (with_("preset", 3), ["preset = 3", "type string"]),
    (with_("colour", "blue"), ["unknown key(s) ['colour']", "allowed keys"]),
    (with_(f"{AE}.latent", -4), [f"{AE}.latent = -4", ">= 1", "latent width"]),
    (with_(f"{AE}.latent", "16"), [f"{AE}.latent = '16'", "type integer"]),
    (with_(f"{AE}.latent", 4.5), [f"{AE}.latent = 4.5", "type integer"]),
    (with_(f"{AE}.batch_size", 0), [f"{AE}.batch_size = 0", ">= 1"]),
    (with_(f"{AE}.epochs", 0), [f"{AE}.epochs = 0", ">= 1"]),
    (with_(f"{AE}.lr", 0), [f"{AE}.lr = 0", "> 0"]),
    (with_(f"{AE}.weight_decay", -0.1), [f"{AE}.weight_decay = -0.1", ">= 0"]),
    (with_(f"{AE}.test_fraction", 1.5), [f"{AE}.test_fraction = 1.5", "< 1"]),
    (with_(f"{AE}.seeds", []), [f"{AE}.seeds = []", "at least 1 item"]),
    (with_(f"{AE}.seeds", [0, 0]), [f"{AE}.seeds = [0, 0]", "without repeated items"]),
    (with_(f"{AE}.seeds", [-1]), [f"{AE}.seeds.0 = -1", ">= 0"]),
    (with_(f"{AE}.dataset", "mnits"), [f"{AE}.dataset = 'mnits'", "one of"]),
    (with_(f"{AE}.variants", {"td": {"mode": "triangel"}}),
     [f"{AE}.variants.td.mode = 'triangel'", "'triangle'", "'nested'"]),
    (with_(f"{AE}.variants", {"td": {"mode": "nested", "p": 1.5}}),
     [f"{AE}.variants.td.p = 1.5", "<= 1"]),
    (with_(f"{AE}.variants", {}), [f"{AE}.variants = {{}}", "at least 1 entr"]),
    (with_(f"{AE}.variants", {"TD!": {"mode": "none"}}), [f"{AE}.variants: bad name 'TD!'"]),
    (with_(f"{AE}.recon_widths", [1, 99]), [f"{AE}.recon_widths = [99]", "latent: 16"]),
    (with_(f"{AE}.headline_widths", [17]), [f"{AE}.headline_widths = [17]", "larger than"]),
    (with_(f"{AE}.hidden", ...), [AE, "'hidden' is a required property"]),
    (with_("presets", {}), ["presets = {}", "at least 1 entr"]),
    (with_("presets.demo.figures.mask_width", 0), ["figures.mask_width = 0", ">= 1"]),
]  # fmt: skip


def test_the_committed_config_is_valid():
    assert problems(CONFIG, SCHEMA) == []


@pytest.mark.parametrize(("config", "words"), BAD, ids=[w[0] for _, w in BAD])
def test_bad_config_is_explained(config, words):
    found = problems(config, SCHEMA)
    assert found, "the bad config was accepted"
    text = "\n".join(found)
    for word in words:
        assert word in text, f"{word!r} not in:\n{text}"


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
