"""The workflow end to end on a tiny config, and the agreement of Snakemake and DVC."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, one_seed, run
from failures import Failure
from tridrop.claims import COLUMNS, VERDICTS
from tridrop.config import filled, resolve

pytestmark = pytest.mark.slow
NOTHING = "Nothing to be done"

DELETED = Failure(
    "workflow",
    "a model, sweep or analysis file deleted after a complete run (by hand, or by Snakemake after a failed job)",
    "(the dry run plans the job that makes it, and every job that reads it)",
    "every other output; the file is rebuilt and what was made from it is remade",
)
SKEW = Failure(
    "workflow",
    "an input dated in the future (clock skew, `touch -d '+2 hours'` on a dataset)",
    "1 input file(s) modified in the future, e.g. results/demo/data/digits.npz (2.0 h ahead of this machine's clock): nothing was run",
    "everything: no job runs, so no output is deleted (before: the jobs ran, failed on the times and lost their outputs for good)",
)
FAILURES = [DELETED, SKEW]  # fmt: skip


def nothing_to_do(proc) -> bool:
    return NOTHING in proc.stdout + proc.stderr


def model_files(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in (root / "results/demo/runs").rglob("model.pt")}


def test_snakemake_then_dvc(workflow_copy: Path):
    run(["snakemake", "--cores", "2"], workflow_copy)
    res = workflow_copy / "results/demo"

    # The output contract: tidy sweeps, tables, figures (PNG and PDF), metrics.
    df = pd.read_csv(res / "sweeps.csv")
    assert list(df.columns) == ["experiment", "model", "seed", "width", "metric", "value"]
    heads = df[df["experiment"] == "digits_head"]
    df = df[df["experiment"] == "digits"]
    runs = df.groupby(["model", "seed"])["width"].apply(sorted)
    variants = {(m, s) for m in ("td", "notd", "matryoshka") for s in (0, 1)}
    pcaae = {("pcaae", 0), ("pcaae", 1)}
    # No TD's training-free cuts, written by its sweep: every width, every seed.
    controls = {(f"notd_{c}", s) for c in ("meanfill", "pca", "greedy") for s in (0, 1)}
    assert set(runs.index) == (
        variants | pcaae | controls | {("fixed", 0), ("fixed", 1), ("pca", 0)}
    )
    assert all(runs[v] == [1, 2, 3, 4] for v in variants | controls)
    assert runs[("pca", 0)] == [1, 2, 3, 4]
    assert runs[("pcaae", 1)] == [1, 2]  # PCAAE up to pcaae_widths, a decoder per width
    assert runs[("fixed", 0)] == [2]  # a fixed-width baseline has a row at its width only
    assert (df["value"] > 0).all()
    plot = pd.read_csv(res / "plots/digits_mse.csv")
    sizes = plot.groupby("model").size().to_dict()  # a row per width each model was run at
    assert sizes == {"fixed": 1, "matryoshka": 4, "notd": 4, "pca": 4, "pcaae": 2, "td": 4,
                     "notd_meanfill": 4, "notd_pca": 4, "notd_greedy": 4}  # fmt: skip
    imp = pd.read_csv(res / "tables/digits_importance.csv")
    assert len(imp) == 3 * 2 * 4 and set(imp["model"]) == {"td", "notd", "matryoshka"}
    dep = pd.read_csv(res / "tables/digits_dependence.csv")
    assert (dep["unit"] != dep["removed"]).all() and set(dep["metric"]) <= {"dependence", "gating"}
    runs = dep[(dep["metric"] == "dependence") & (dep["model"] != "notd_sorted")]
    assert len(runs) == 3 * 2 * 4 * 3 and "notd_sorted" in set(dep["model"])  # the control
    # Order at the top (k = 4 units: 4 prefix ratios and the adjacent pairs), per run, and
    # for no TD's units sorted by importance.
    order = pd.read_csv(res / "tables/digits_order.csv")
    assert list(order.columns) == list(df.columns)
    assert set(order["model"]) == {"td", "notd", "matryoshka", "notd_sorted"}
    assert len(order) == 4 * 2 * 5 and set(order["seed"]) == {0, 1}
    adjacent = order[order["metric"] == "adjacent_ordered"]
    assert (adjacent["width"] == 4).all() and adjacent["value"].between(0, 1).all()
    gap = pd.read_csv(res / "tables/digits_gap.csv").set_index("model")
    assert set(gap.index) == {"td", "notd", "matryoshka", "pcaae"}
    assert gap.at["notd", "full"] == 1.0
    assert gap.at["matryoshka", "passes"] == 2.0  # (1 + 3) / 2 at widths 1, 2, 4
    assert gap["pareto"].any() and (gap["seeds"] == 2).all()
    claims = pd.read_csv(res / "claims.csv")
    assert list(claims.columns) == COLUMNS
    assert {"share_below_diagonal", "mse_ratio_td_fixed_w2"} <= set(claims["metric"])
    assert claims["verdict"].isin(VERDICTS).all() and claims["control"].notna().any()
    for fig in ("digits_mse_vs_width", "digits_reconstructions", "triangular_mask",
                "digits_importance", "digits_dependence", "digits_dependence_variants",
                "digits_gap"):  # fmt: skip
        for ext in ("png", "pdf"):
            assert (res / f"figures/{fig}.{ext}").stat().st_size > 1000
    assert not list(res.glob("figures/*_reconstructions_*"))  # one grid, no figure per variant
    metrics = json.loads((res / "metrics.json").read_text())
    assert set(metrics["digits"]["mse"]["td"]) == {"w1", "w2", "full"}
    meta = json.loads((res / "runs/digits/td/seed1/model.json").read_text())
    assert meta["train"]["seed"] == 1 and meta["train"]["epochs"] == 3
    assert meta["environment"]["torch"] and meta["arch"]["model"]["latent"] == 4

    # The report holds every figure and table with its caption in one HTML file.
    run(["snakemake", "--report", "report.html"], workflow_copy)
    html = (workflow_copy / "report.html").read_text()
    for name in [p.name for p in (res / "figures").glob("*.png")] + ["summary.csv"]:
        assert name in html, name
    assert "environment.json" in html and "reconstruction error" in html
    assert "claims.csv" in html and "accuracy_vs_params.csv" in html

    # The classifier-head stand-in: TD variants and baselines at every width, table, claims.
    assert set(heads["metric"]) == {"top1", "top5"} and heads["value"].between(0, 1).all()
    td = heads[(heads["model"] == "td") & (heads["metric"] == "top1")]
    assert sorted(td["width"]) == [1, 2, 4, 8, 16]
    assert {"td_scratch", "fixed", "ranked", "reference"} <= set(heads["model"])
    # The reference's cuts trained one epoch at each width below full (controls of issue 22).
    tuned = heads[(heads["model"] == "ranked_ft") & (heads["metric"] == "top1")]
    assert sorted(tuned["width"]) == [1, 2, 4, 8] and "svd_ft" in set(heads["model"])
    grid = pd.read_csv(res / "tables/digits_head_grid.csv")
    assert len(grid) == 5 * 5 and grid["on_front"].any() and (grid["seeds"] == 1).all()
    assert (res / "figures/digits_head_grid.png").stat().st_size > 1000
    # The head's gap report: every head serving every width against no TD and fixed4.
    gap = pd.read_csv(res / "tables/digits_head_gap.csv").set_index("model")
    assert set(gap.index) == {"td", "td_scratch", "notd", "matryoshka"}
    assert gap.at["notd", "full"] == 1.0 and gap.at["matryoshka", "passes"] > 1
    chosen = pd.read_csv(res / "tables/digits_head_select.csv")
    assert chosen["tolerance"].tolist() == [0.01, 0.05] and chosen["width"].le(16).all()
    # The autoencoder's: MSE within the tolerance where a narrower width was chosen.
    chosen = pd.read_csv(res / "tables/digits_select.csv").query("narrower")
    assert (chosen["value_select"] <= (1 + chosen["tolerance"]) * chosen["full_select"]).all()
    table = pd.read_csv(res / "tables/digits_head_accuracy_vs_params.csv")
    full = table[(table["model"] == "td") & (table["width"] == 16)].iloc[0]
    assert full["head_params"] == 64 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10
    assert full["head_pct"] == 100
    head_claims = claims[claims["experiment"] == "digits_head"]
    assert set(head_claims["metric"]) == {"top1_ratio", "top1_gap"}
    assert (res / "figures/digits_head_accuracy_vs_params.png").stat().st_size > 1000
    tally = json.loads((res / "claims.json").read_text())
    assert tally["all"]["held"] == int((claims["verdict"] == "held").sum())
    assert sum(tally["all"][v] for v in VERDICTS) == tally["all"]["tested"] == len(claims)
    td_top1 = pd.read_csv(res / "plots/digits_head_top1.csv").query("model == 'td'")
    assert td_top1["width"].tolist() == [1, 2, 4, 8, 16]

    # Re-running Snakemake does nothing.
    assert nothing_to_do(run(["snakemake", "--cores", "2"], workflow_copy))

    # DVC after Snakemake: the complete run recorded its outputs in dvc.lock (Snakefile,
    # onsuccess), so the stage is up to date; nothing retrains.
    before = model_files(workflow_copy)
    assert "didn't change, skipping" in run(["dvc", "repro"], workflow_copy).stdout
    assert model_files(workflow_copy) == before
    assert "up to date" in run(["dvc", "status"], workflow_copy).stdout
    assert nothing_to_do(run(["snakemake", "-n"], workflow_copy))
    assert "digits.mse.td.w1" in run(["dvc", "metrics", "show"], workflow_copy).stdout
    # `dvc plots show` draws the preset's files only: no warnings about other presets' files.
    plots = run(["dvc", "plots", "show", "--json"], workflow_copy)
    assert "WARNING" not in plots.stderr and "results/demo/plots/digits_mse.csv" in plots.stdout

    # A deleted per-run file (a sweep, an analysis: what a failed job's outputs leave) is
    # rebuilt and its readers rerun, not silently dropped; so is a deleted model.
    for name in ("digits/td/seed1/sweep.csv", "digits/td/seed1/importance.csv",
                 "digits_head/td/seed0/sweep.csv"):  # fmt: skip
        (res / f"runs/{name}").unlink()
    jobs = planned(run(["snakemake", "-n"], workflow_copy))
    assert {"ae_sweep", "ae_analyse", "head_sweep", "ae_claims", "head_claims"} <= jobs
    assert "ae_train" not in jobs
    for model in ("digits/td/seed0", "digits_head/td/seed0"):
        (res / f"runs/{model}/model.pt").unlink()
    assert {"ae_train", "head_train"} <= planned(run(["snakemake", "-n"], workflow_copy))

    # An input dated in the future (clock skew) stops the run before any job, with the file
    # named: Snakemake would otherwise fail the jobs after they ran and delete their outputs.
    data = res / "data/digits.npz"
    # Two hours ahead of now, not of the file's time: the run above may take minutes.
    os.utime(data, (data.stat().st_atime, time.time() + 7200))
    proc = run(["snakemake", "-n"], workflow_copy, check=False)
    assert proc.returncode == 1 and SKEW.seen in proc.stdout + proc.stderr


def test_dvc_then_snakemake(workflow_copy: Path):
    run(["dvc", "repro"], workflow_copy)
    assert (workflow_copy / "dvc.lock").exists()
    assert nothing_to_do(run(["snakemake", "-n"], workflow_copy))
    assert "up to date" in run(["dvc", "status"], workflow_copy).stdout


def test_changing_a_parameter_reruns_only_what_depends_on_it(workflow_copy: Path):
    run(["snakemake", "--cores", "2"], workflow_copy)
    cfg_path = workflow_copy / "config/config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["presets"]["demo"]["figures"]["mask_width"] = 8
    cfg_path.write_text(yaml.safe_dump(cfg))
    dry = run(["snakemake", "-n"], workflow_copy).stdout
    assert "plot_mask" in dry and "ae_train" not in dry


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(preset="papr"), "preset = 'papr' is not defined"),
        (lambda c: c.update(device="tpu"), "device = 'tpu' is not allowed"),
        (lambda c: c["presets"]["demo"]["autoencoders"]["digits"].update(recon_widths=[99]),
         "recon_widths = [99] is not allowed; expected widths up to the latent layer"),
    ],
)  # fmt: skip
def test_bad_config_fails_before_any_job(workflow_copy: Path, edit, message):
    cfg_path = workflow_copy / "config/config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    edit(cfg)
    cfg_path.write_text(yaml.safe_dump(cfg))
    proc = run(["snakemake", "-n"], workflow_copy, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (workflow_copy / "results").exists()


def test_names_of_repeated_letters_plan_like_any_other(workflow_copy: Path):
    """Snakemake once raised PeriodicWildcardError for such names: the experiment wildcard now
    matches exactly the configured names."""
    cfg_path = workflow_copy / "config/config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    demo = cfg["presets"]["demo"]
    demo["autoencoders"] = {"aaaa": demo["autoencoders"]["digits"]}
    demo["heads"] = {"hh": demo["heads"]["digits_head"]}
    cfg_path.write_text(yaml.safe_dump(cfg))
    jobs = planned(run(["snakemake", "-n"], workflow_copy))
    assert {"ae_train", "ae_claims", "head_train", "head_claims"} <= jobs


def test_committed_demo_results_match_the_config():
    """The committed default-preset results were written by the committed config."""
    raw = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    cfg = filled(raw, resolve({**raw, "preset": "demo"}))  # every default written out
    spec = cfg["presets"]["demo"]["heads"]["digits_head"]
    df = pd.read_csv(ROOT / "results/demo/sweeps.csv")
    td = df[(df["experiment"] == "digits_head") & (df["model"] == "td")]
    assert sorted(td["seed"].unique()) == spec["seeds"]
    assert sorted(td["width"].unique()) == sorted(spec["widths"])
    spec = cfg["presets"]["demo"]["autoencoders"]["digits"]
    df = df[df["experiment"] == "digits"]
    assert sorted(df["seed"].unique()) == spec["seeds"]
    baselines = {"fixed"} if spec.get("fixed_widths") else set()
    baselines |= {"pca"} if spec.get("pca") else set()
    baselines |= {"pcaae"} if spec.get("pcaae_widths") else set()
    baselines |= {"notd_meanfill", "notd_pca", "notd_greedy"}  # no TD cut without training
    assert sorted(df["model"].unique()) == sorted(set(spec["variants"]) | baselines)
    fixed = df[df["model"] == "fixed"]
    assert sorted(fixed["width"].unique()) == sorted(spec.get("fixed_widths", []))
    assert df["width"].max() == spec["latent"]


def test_mnist_experiment_plans_a_download_or_reads_a_local_folder(workflow_copy: Path):
    cfg_path = workflow_copy / "config/config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    aes = cfg["presets"]["demo"]["autoencoders"]
    aes["mnist"] = {**aes["digits"], "dataset": "mnist", "max_train": 100}
    cfg_path.write_text(yaml.safe_dump(cfg))
    dry = run(["snakemake", "-n", "-p", "results/demo/data/mnist.npz"], workflow_copy).stdout
    assert "tridrop data download --spec" in dry and "--root results/demo/data/raw/mnist" in dry
    assert '"max_train":100' in dry and "--raw results/demo/data/raw/mnist" in dry

    local = workflow_copy / "idx"
    local.mkdir()
    aes["mnist"].update(source="local", path=str(local))
    cfg_path.write_text(yaml.safe_dump(cfg))
    dry = run(["snakemake", "-n", "-p", "results/demo/data/mnist.npz"], workflow_copy).stdout
    assert "download_data" not in dry and f"--raw {local}" in dry


def test_local_data_replaced_with_older_files_reruns_the_split(workflow_copy: Path):
    """Other data copied in with an older time (`cp -p`, `touch -d 2020`) is noticed: the
    split's params hold the files' fingerprint (Snakemake compares times only)."""
    import os

    from test_data import write_idx

    local = workflow_copy / "idx"
    local.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 20), ("t10k", 10)):
        write_idx(
            local / f"{split}-images-idx3-ubyte", rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)
        )
        write_idx(local / f"{split}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))
    cfg_path = workflow_copy / "config/config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    aes = cfg["presets"]["demo"]["autoencoders"]
    aes["mnist"] = {**aes["digits"], "dataset": "mnist", "source": "local", "path": str(local)}
    cfg_path.write_text(yaml.safe_dump(cfg))
    target = "results/demo/data/mnist.npz"
    run(["snakemake", "--cores", "1", target], workflow_copy)
    assert nothing_to_do(run(["snakemake", "-n", target], workflow_copy))
    images = local / "train-images-idx3-ubyte"
    old = images.stat().st_mtime - 10**7  # months older than the stored split
    write_idx(images, rng.integers(0, 255, (20, 28, 28), dtype=np.uint8))
    os.utime(images, (old, old))
    dry = run(["snakemake", "-n", target], workflow_copy)
    assert "prepare_data" in planned(dry)


def planned(proc) -> set[str]:
    """Rules a dry run would run, from its job table."""
    table = proc.stdout.split("Job stats:")[1].split("total")[0]
    return {line.split()[0] for line in table.splitlines()[3:] if line.strip()}


def test_an_edit_reruns_only_the_jobs_whose_code_changed(workflow_copy: Path):
    one_seed(workflow_copy)
    run(["snakemake", "--cores", "2"], workflow_copy)
    figure = workflow_copy / "src/tridrop/families/autoencoder/figures/sweep.py"
    figure.write_text(figure.read_text() + "\n# an edit\n")
    assert planned(run(["snakemake", "-n"], workflow_copy)) == {"ae_plot_sweep", "all"}
    readme = workflow_copy / "src/tridrop/readme.py"
    readme.write_text(readme.read_text() + "\n# an edit\n")
    assert planned(run(["snakemake", "-n"], workflow_copy)) == {"ae_plot_sweep", "all"}
    run(["snakemake", "--cores", "2"], workflow_copy)
    method = workflow_copy / "src/tridrop/dropout.py"
    method.write_text(method.read_text() + "\n# an edit\n")
    jobs = planned(run(["snakemake", "-n"], workflow_copy))
    assert {"ae_train", "head_train", "ae_sweep", "plot_mask"} <= jobs
    assert "prepare_data" not in jobs and "environment" not in jobs


def test_the_paper_autoencoders_plan_without_imagenet(workflow_copy: Path):
    config = ["--config", "preset=paper"]  # after the target: --config takes every word after it
    ae = run(["snakemake", "-n", "autoencoders", *config], workflow_copy)
    assert {"ae_train", "download_data"} <= planned(ae) and "head_cache" not in planned(ae)
    heads = run(["snakemake", "-n", "heads", *config], workflow_copy, check=False)
    assert heads.returncode != 0
    out = heads.stdout + heads.stderr
    assert "presets.paper.heads.vgg19.imagenet.root" in out and "ImageNet not found" in out


@pytest.mark.parametrize("payload", ["x$(touch pwned)", "x`touch pwned`", "a b; touch pwned"])
def test_config_paths_never_reach_a_shell_unquoted(workflow_copy: Path, payload: str):
    import shutil

    shared = ROOT.parent / "shared/data/mnist"
    if not shared.is_dir():
        pytest.skip("needs the MNIST test split in ../shared/data/mnist")
    folder = workflow_copy / payload
    shutil.copytree(shared, folder)
    cfg_path = workflow_copy / "config/config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    aes = cfg["presets"]["demo"]["autoencoders"]
    aes["mnist"] = {**aes["digits"], "dataset": "mnist", "source": "local", "path": str(folder),
                    "max_train": 50, "max_test": 20}  # fmt: skip
    cfg_path.write_text(yaml.safe_dump(cfg))
    run(["snakemake", "--cores", "1", "results/demo/data/mnist.npz"], workflow_copy)
    assert (workflow_copy / "results/demo/data/mnist.npz").exists()
    assert not list(workflow_copy.rglob("pwned"))


def test_a_new_hyper_parameter_takes_two_files(workflow_copy: Path):
    # docs/extending.md: the spec field (default, bounds, doc in one line) and the config value;
    # no schema, no rule changes.
    specs = workflow_copy / "src/tridrop/specs.py"
    text = specs.read_text()
    line = '    weight_decay: float = setting(0.0, "Adam\'s L2 penalty", ge=0)\n'
    assert line in text
    specs.write_text(
        text.replace(line, line + '    probe: float = setting(0.0, "a new knob")\n', 1)
    )
    cfg_path = workflow_copy / "config/config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["presets"]["demo"]["autoencoders"]["digits"]["probe"] = 0.5
    cfg_path.write_text(yaml.safe_dump(cfg))
    env = {"PYTHONPATH": str(workflow_copy / "src")}  # the copy's package, not the installed one
    dry = run(["snakemake", "-n", "-p", "autoencoders"], workflow_copy, env=env)
    trains = [line for line in dry.stdout.splitlines() if "tridrop ae train" in line]
    assert trains and all('"probe":0.5' in line for line in trains)


def test_a_new_family_takes_the_files_extending_md_names(workflow_copy: Path):
    """A toy family living only in tests/toy_family (its four modules and its rule file, see
    docs/extending.md) joins the registry through the config and is planned end to end."""
    toy = ROOT / "tests" / "toy_family"
    files = sorted(p.name for p in toy.iterdir() if p.suffix in (".py", ".smk"))
    assert files == ["__init__.py", "jobs.py", "rules.smk", "specs.py", "workflow.py"]
    extending = (ROOT / "docs/extending.md").read_text()
    assert "five files" in extending and "tests/toy_family" in extending
    cfg_path = workflow_copy / "config/config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["families"] = ["tests/toy_family"]
    cfg["presets"]["demo"]["toys"] = {"tally": {"dataset": "digits", "limit": 7}}
    cfg_path.write_text(yaml.safe_dump(cfg))
    dry = run(["snakemake", "-n", "-p", "--forceall"], workflow_copy)
    assert 'tridrop toy count --spec \'{"experiment":"tally","limit":7}\'' in dry.stdout
    assert "results/demo/runs/tally/toy/count.csv" in dry.stdout
    # A bad value of the toy's own setting is refused like any other, naming its key.
    cfg["presets"]["demo"]["toys"]["tally"]["limit"] = 0
    cfg_path.write_text(yaml.safe_dump(cfg))
    bad = run(["snakemake", "-n"], workflow_copy, check=False)
    assert bad.returncode != 0
    assert "presets.demo.toys.tally.limit = 0 is not allowed" in bad.stdout + bad.stderr
