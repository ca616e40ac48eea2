"""Typed specs: JSON round trips, validation messages that name the key, config picking."""

import dataclasses
import json

import pytest

from tridrop import specs
from tridrop.families.autoencoder import specs as ae
from tridrop.families.autoencoder.specs import AutoencoderModel, AutoencoderTrain
from tridrop.families.head import specs as head
from tridrop.specs import SpecError, TrainSpec


def every_spec():
    """Every job spec of the shared module and the wings (config sections apart)."""
    found = {}
    for module in (specs, ae, head):
        for v in vars(module).values():
            if (
                dataclasses.is_dataclass(v)
                and isinstance(v, type)
                and v.__module__ == module.__name__
            ):
                found[v.__name__] = v
    sections = {"AutoencoderExperiment", "HeadExperiment", "AutoencoderVariant", "HeadVariant",
                "Backbone", "Experiment"}  # fmt: skip
    return [v for k, v in sorted(found.items()) if k not in sections and not k.startswith("_")]


@pytest.mark.parametrize("cls", every_spec(), ids=lambda c: c.__name__)
def test_defaults_round_trip_through_json(cls):
    none = dataclasses.MISSING
    required = {f.name for f in dataclasses.fields(cls)
                if f.default is none and f.default_factory is none}  # fmt: skip
    values = {
        "experiment": "e",
        "model": "m",
        "dataset": "digits",
        "split": "train",
        "rows": {"experiment": "e", "model": "m"},
        "width": 4,
        "widths": [1, 4],
        "series": "e",
        "experiments": ["e"],
        "epochs": [1],
        "lrs": [0.001],
        "train": {},  # a TrainSpec of defaults (the linear probe's; the trains below add a model)
        "claims": {},  # HeadClaims of defaults (the head's claims job)
        "classes": 10,
    }
    trains = (AutoencoderTrain, head.HeadTrain, head.BackboneTrain, ae.PCAAETrain)
    nested = {"model": {}, "train": {}} if cls in trains else {}
    spec = specs.load(cls, {k: nested.get(k, values.get(k)) for k in required})
    assert specs.load(cls, specs.dump(spec)) == spec


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"model": {}, "train": {"epochs": -5}}, "spec.train.epochs = -5 is not allowed"),
        ({"model": {}, "train": {"lr": "1e-3"}}, "spec.train.lr = '1e-3' is not allowed; expected a number"),
        ({"model": {"mode": "tri"}, "train": {}}, "spec.model.mode = 'tri' is not allowed"),
        ({"model": {"latent": True}, "train": {}}, "spec.model.latent = True is not allowed"),
        ({"model": {}, "train": {}, "extra": 1}, "spec: unknown key(s) ['extra']"),
        ({"model": {}}, "spec: missing required key 'train'"),
        ({"model": {}, "train": {"device": "tpu"}}, "spec.train.device = 'tpu' is not allowed"),
    ],
)  # fmt: skip
def test_bad_values_name_their_key(data, message):
    with pytest.raises(SpecError) as err:
        specs.load(AutoencoderTrain, json.dumps(data))
    assert message in str(err.value)


def test_pick_takes_only_fields_and_keeps_defaults_in_the_dataclass():
    section = {"epochs": 7, "seeds": [0, 1], "hidden": 32, "latent": 8, "lr": 0.01}
    train = specs.pick(TrainSpec, section, seed=1)
    assert train == TrainSpec(epochs=7, lr=0.01, seed=1)
    model = specs.pick(AutoencoderModel, section, {"mode": "none", "latent": 2})
    assert (model.hidden, model.latent, model.mode, model.p) == (32, 2, "none", 0.1)


def test_variants_fixed_widths_and_row_names():
    section = {"variants": {"td": {"mode": "triangle"}}}
    assert specs.variant(section, "td", "latent") == {"mode": "triangle"}
    assert specs.variant(section, "fixed8", "latent") == {"mode": "none", "init": "scratch",
                                                          "latent": 8}  # fmt: skip
    assert specs.variant(section, "notd", "hidden")["mode"] == "none"
    with pytest.raises(SpecError, match="unknown variant 'tdd'"):
        specs.variant(section, "tdd", "latent")
    assert [specs.rows_name(v) for v in ("td", "fixed8", "fixedx")] == ["td", "fixed", "fixedx"]


def test_describe_lists_nested_fields_with_defaults():
    text = specs.describe(AutoencoderTrain)
    assert "model:" in text and "latent (int): default 16" in text and "epochs (int)" in text


@pytest.mark.parametrize(
    ("cls", "data", "message"),
    [
        (AutoencoderTrain, {"model": {"hidden": 0}, "train": {}},
         "spec.model.hidden = 0 is not allowed; expected >= 1 for an MLP"),
        (head.HeadTrain, {"model": {"hidden": 0}, "train": {}},
         "spec.model.hidden = 0 is not allowed; expected an integer >= 1"),
        (AutoencoderTrain, {"model": {"latent": 16}, "train": {"batch_size": 8}},
         "spec.train.batch_size = 8 is not allowed; expected at least model.latent = 16 in mode "
         "triangle (a smaller batch trains only 8 of the 16 widths)"),
        (ae.AutoencoderSweep, {"rows": {"experiment": "e", "model": "m"}, "width": 16,
                                  "recon_widths": [1, 99]},
         "spec.recon_widths = [99] is not allowed; expected widths in 1..width (16)"),
        (head.HeadSweep, {"rows": {"experiment": "e", "model": "m"}, "width": 16,
                           "widths": [8, 64]},
         "spec.widths = [64] is not allowed; expected widths in 1..width (16)"),
    ],
)  # fmt: skip
def test_specs_refuse_what_the_config_check_refuses(cls, data, message):
    with pytest.raises(SpecError) as err:
        specs.load(cls, data)
    assert message in str(err.value)


def test_what_the_checks_leave_legal():
    """Conv ignores hidden; batch < latent is harmless outside mode triangle (random, fixed)."""
    specs.load(AutoencoderModel, {"arch": "conv", "hidden": 0})
    for mode in ("none", "random", "nested"):
        specs.load(AutoencoderTrain, {"model": {"latent": 16, "mode": mode},
                                      "train": {"batch_size": 1}})  # fmt: skip


def test_every_setting_of_a_section_is_one_field_of_a_job_spec():
    """A config section is made from the job specs: its settings carry their docs and bounds."""
    fields = {f.name: f for f in dataclasses.fields(ae.AutoencoderExperiment)}
    assert fields["epochs"].metadata == dataclasses.fields(TrainSpec)[0].metadata
    assert fields["latent"].metadata["bounds"] == {"ge": 2}  # tightened: the claims need 2
    model = {f.name: f for f in dataclasses.fields(AutoencoderModel)}
    assert model["latent"].metadata["bounds"] == {"ge": 1}  # fixed1 is a model of one unit
    with pytest.raises(SpecError, match="section.hidden = 0 is not allowed"):
        specs.load(head.HeadExperiment, {"dataset": "digits", "hidden": 0, "widths": [1]},
                   "section")  # fmt: skip


def test_mode_names_are_written_once():
    from tridrop import dropout, modes

    assert dropout.MODES is modes.MODES and specs.MODES is modes.MODES
