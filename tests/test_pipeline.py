"""The workflow helpers in-process: each rule's spec, inputs, targets and shell command, built
from the config without Snakemake (milliseconds each)."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from types import SimpleNamespace as NS

import pytest
import yaml

from conftest import ROOT, TINY
from tridrop.config import resolve
from tridrop.families.autoencoder.workflow import Workflow as AEWorkflow
from tridrop.families.head.workflow import Workflow as HeadWorkflow
from tridrop.pipeline import Pipeline, command, expand, signature


def rules() -> NS:
    """Snakemake's rules namespace, as far as the helpers read it (output templates)."""
    o = "results/tiny/runs/{experiment}/{variant}/seed{seed}/"
    return NS(
        ae_train=NS(output=NS(model=o + "model.pt", meta=o + "model.json")),
        ae_sweep=NS(output=NS(out=o + "sweep.csv", recon=o + "reconstructions.npz")),
        ae_pcaae=NS(
            output=NS(
                meta="p/{experiment}/{seed}.json",
                out="p/{experiment}/{seed}.csv",
                model="p/{experiment}/{seed}.pt",
            )
        ),
        ae_baselines=NS(output=NS(out="b/{experiment}.csv", recon="b/{experiment}.npz")),
        ae_analyse=NS(
            output=NS(
                importance=o + "importance.csv",
                dependence=o + "dependence.csv",
                order=o + "order.csv",
            )
        ),
        ae_claims=NS(output=NS(out="claims/{experiment}.csv")),
        ae_table=NS(output=NS(order_out="tables/{experiment}_order.csv")),
        ae_gap=NS(output=NS(out="tables/{experiment}_gap.csv")),
        ae_select=NS(output=NS(out="tables/{experiment}_select.csv")),
        ae_plot_sweep=NS(output=NS(png="figures/{experiment}_mse_vs_width.png")),
        ae_budget=NS(output=NS(claims="claims/{series}_budget.csv")),
        ae_plot_budget=NS(output=NS(png="figures/{series}_budget.png")),
        ae_lr=NS(output=NS(claims="claims/{series}_lr.csv")),
        ae_plot_lr=NS(output=NS(png="figures/{series}_lr.png")),
        collect=NS(output=NS(out="results/tiny/runs/{experiment}/sweeps.csv")),
        ae_plot_gap=NS(output=NS(png="figures/{experiment}_gap.png")),
        ae_plot_features=NS(output=NS(png="figures/{experiment}_{kind}.png")),
        ae_plot_dependence_variants=NS(
            output=NS(png="figures/{experiment}_dependence_variants.png")
        ),
        ae_plot_reconstructions=NS(output=NS(png="figures/{experiment}_reconstructions.png")),
        head_train=NS(output=NS(model=o + "model.pt")),
        head_pretrained=NS(output=NS(model="pre/{experiment}.pt")),
        head_sweep=NS(output=NS(out=o + "sweep.csv", params=o + "params.csv")),
        head_baselines=NS(output=NS(out="hb/{experiment}.csv", params="hb/{experiment}_p.csv")),
        head_claims=NS(output=NS(out="claims/{experiment}.csv")),
        prepare_data=NS(output=NS(out="results/tiny/data/{dataset}.npz")),
        download_data=NS(output=NS(root="raw/{dataset}")),
    )


@pytest.fixture(scope="module")
def pipe() -> Pipeline:
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    config["presets"]["tiny"] = yaml.safe_load(TINY.read_text())["presets"]["tiny"]
    return Pipeline.of(resolve({**config, "preset": "tiny", "device": "cpu"}), rules=rules())


def w(**values) -> NS:
    return NS(**values)


def test_each_variant_gets_its_own_training_spec(pipe):
    ae = AEWorkflow(pipe, pipe.rules)
    td = json.loads(ae.train_spec(w(experiment="digits", variant="td", seed="1")))
    assert td["model"]["mode"] == "triangle" and td["model"]["latent"] == 4
    assert td["train"] == {**td["train"], "epochs": 3, "seed": 1, "device": "cpu"}
    fixed = json.loads(ae.train_spec(w(experiment="digits", variant="fixed2", seed="0")))
    assert (fixed["model"]["mode"], fixed["model"]["latent"]) == ("none", 2)
    matryoshka = json.loads(ae.train_spec(w(experiment="digits", variant="matryoshka", seed="0")))
    assert matryoshka["objective"]["loss"] == "matryoshka"
    pcaae = json.loads(ae.pcaae_spec(w(experiment="digits", seed="0")))
    assert pcaae["widths"] == 2 and pcaae["model"]["mode"] == "none"


def test_only_the_reference_gets_the_training_free_controls(pipe):
    ae = AEWorkflow(pipe, pipe.rules)
    for variant, controls in (("notd", True), ("td", False), ("matryoshka", False)):
        run = w(experiment="digits", variant=variant, seed="1")
        sweep, analysis = json.loads(ae.sweep_spec(run)), json.loads(ae.analysis_spec(run))
        assert sweep["controls"] is analysis["controls"] is controls, variant
        assert sweep["greedy_images"] == 2000 and sweep["device"] == analysis["device"] == "cpu"
    assert (
        json.loads(ae.sweep_spec(w(experiment="digits", variant="fixed2", seed="0")))["controls"]
        is False
    )
    assert ae.order(w(experiment="digits"))[0] == "results/tiny/runs/digits/td/seed0/order.csv"


def test_inputs_and_targets_come_from_the_rules_outputs(pipe):
    ae = AEWorkflow(pipe, pipe.rules)
    assert ae.data(w(experiment="digits")) == "results/tiny/data/digits.npz"
    sweeps = ae.sweeps("digits")
    assert len(sweeps) == 2 * 4 + 1 + 2  # (3 variants + fixed2) x 2 seeds, PCA, 2 PCAAE seeds
    assert "results/tiny/runs/digits/fixed2/seed1/sweep.csv" in sweeps
    models = [m for m, _ in ae.gap_runs("digits")]
    assert models.count("fixed") == 2 and models.count("pcaae") == 2
    assert ae.claims() == ["claims/digits.csv"]
    head = HeadWorkflow(pipe, pipe.rules)
    # The digits head's reference is trained on the cache: notd at the reference seed.
    ref = head.reference(w(experiment="digits_head"))
    assert ref == "results/tiny/runs/digits_head/notd/seed0/model.pt"
    assert head.init(w(experiment="digits_head", variant="td")) == ref
    assert head.init(w(experiment="digits_head", variant="td_scratch")) == []
    assert pipe.plot_files() == [
        "results/tiny/plots/digits_mse.csv",
        "results/tiny/plots/digits_head_top1.csv",
        "results/tiny/plots/digits_head_top5.csv",
    ]


def test_figures_are_one_per_experiment_and_read_what_they_draw(pipe):
    ae = AEWorkflow(pipe, pipe.rules)
    # One reconstruction grid of the first seed of every trained variant, fixed2 too, and PCA.
    recon = ae.first_seed_recon(w(experiment="digits"))
    assert recon == [
        f"results/tiny/runs/digits/{v}/seed0/reconstructions.npz"
        for v in ("td", "notd", "matryoshka", "fixed2")
    ] + ["b/digits.npz"]
    spec = json.loads(ae.recon_title(w(experiment="digits")))
    models = ["td", "notd", "matryoshka", "fixed2", "pca"]
    assert spec["models"] == models and "seed 0" in spec["title"]
    figures = [t for t in ae.targets() if t.startswith("figures/")]
    assert sorted(figures) == [
        f"figures/digits_{name}.png"
        for name in (
            "dependence",
            "dependence_variants",  # matryoshka beside TD and no TD
            "gap",
            "importance",
            "mse_vs_width",
            "reconstructions",
        )
    ]
    ae.experiments = {"only": NS(variants={"td": {}, "notd": {}}), "more": NS(variants={"x": {}})}
    assert ae.variant_experiments() == ["more"]  # the others' matrices are all in one figure
    head = HeadWorkflow(pipe, pipe.rules)
    spec = json.loads(head.figure_spec(w(experiment="digits_head")))
    assert spec == {
        "experiment": "digits_head",
        "classes": 10,
        "hidden": 16,
        "batch_size": 64,
        "triangle": ["td", "td_scratch"],
        "budgets": "head",
    }


def test_a_rule_command_is_the_jobs_signature():
    assert signature("tridrop.families.autoencoder.jobs", "train") == (
        ("data", "In", False), ("model", "Out", False), ("checkpoint", "Work", True),
    )  # fmt: skip
    cmd = command("ae", "tridrop.families.autoencoder.jobs", "train")
    assert cmd == (
        "OMP_NUM_THREADS={threads} tridrop ae train --spec {params.spec:q} "
        "--data {input.data:q} --model {output.model:q} --checkpoint {params.checkpoint:q} "
        "2> {log:q}"
    )
    # An optional input comes whole from a param of the same name (or is left out).
    cache = command("head", "tridrop.families.head.jobs", "cache", prefix="")
    assert "{params.data} {params.backbone}" in cache and "--out {output.out:q}" in cache
    with pytest.raises(ValueError, match="no job 'trian'"):
        signature("tridrop.families.autoencoder.jobs", "trian")


def test_expand_is_every_combination_in_order():
    assert expand("{a}/{b}", a=["x", "y"], b=[1, 2]) == ["x/1", "x/2", "y/1", "y/2"]
    assert expand("{a}", a="x") == ["x"]


def test_total_cores_are_asked_only_by_imagenet_caching(pipe):
    """Snakemake's `workflow.cores` raises under a cluster executor run without --cores: only an
    ImageNet feature cache (all cores as threads) asks for it, when its job is built."""

    def unset() -> int:
        raise AssertionError("asked for the total cores")

    head = HeadWorkflow(dataclasses.replace(pipe, cores=unset), pipe.rules)
    assert head.cache_threads(w(experiment="digits_head")) == 1
    head = HeadWorkflow(dataclasses.replace(pipe, cores=lambda: 6), pipe.rules)
    head.experiments = {"big": NS(dataset="imagenet")}
    assert head.cache_threads(w(experiment="big")) == 6


def test_an_input_dated_in_the_future_is_refused_before_any_job(pipe, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "results/tiny/data/digits.npz"
    data.parent.mkdir(parents=True)
    data.write_bytes(b"x")
    assert pipe.clock_skew() == ""  # written now
    later = time.time() + 3 * 3600  # as if from a machine whose clock is 3 hours ahead
    os.utime(data, (later, later))
    why = pipe.clock_skew()
    assert why.startswith("1 input file(s) modified in the future")
    assert "results/tiny/data/digits.npz (3.0 h ahead" in why and "nothing was run" in why


def test_experiments_that_differ_in_epochs_alone_are_a_budget_series(pipe):
    """Two copies of an experiment with other epochs join it in one series (shortest first,
    named after it), with its claims and figure among the targets; other experiments do not."""
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    tiny = yaml.safe_load(TINY.read_text())["presets"]["tiny"]
    digits = tiny["autoencoders"]["digits"]
    tiny["autoencoders"] = {
        "long": {**digits, "epochs": 9},
        "short": digits,
        "mid": {**digits, "epochs": 6},
        "other_lr": {**digits, "lr": 0.01},
    }
    config["presets"]["tiny"] = tiny
    budget = Pipeline.of(resolve({**config, "preset": "tiny", "device": "cpu"}), rules=rules())
    ae = AEWorkflow(budget, budget.rules)
    assert ae.budget_series() == {"short": ["short", "mid", "long"]}
    spec = json.loads(ae.budget_spec(w(series="short")))
    assert (spec["experiments"], spec["epochs"]) == (["short", "mid", "long"], [3, 6, 9])
    runs = len(ae.variants("short")) * len(budget.settings.all()["short"].seeds)
    assert len(spec["runs"]) == len(ae.budget_meta(w(series="short"))) == 3 * runs
    assert spec["runs"][0] == "short/td/0" and ae.budget_meta(w(series="short"))[0].endswith(
        "runs/short/td/seed0/model.json"
    )
    assert ae.lr_series() == {"short": ["short", "other_lr"]}  # 1e-3, then 1e-2
    lr = json.loads(ae.lr_spec(w(series="short")))
    assert (lr["experiments"], lr["lrs"]) == (["short", "other_lr"], [0.001, 0.01])
    assert len(ae.lr_meta(w(series="short"))) == len(lr["runs"]) == 2 * runs
    assert "claims/short_budget.csv" in ae.claims() and "claims/short_lr.csv" in ae.claims()
    assert "figures/short_budget.png" in ae.targets()
    assert AEWorkflow(pipe, pipe.rules).budget_series() == {}
