"""`dvc exp run` after `snakemake` keeps every trained model (it used to delete them all).

`dvc exp run` first checks the workspace out to match dvc.lock (with --force): a stage output
that dvc.lock has no hash for is deleted, one with an older hash reverted. A complete Snakemake
run therefore ends with `dvc commit --force pipeline` (Snakefile, onsuccess; tridrop.dvc_record).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import BIN, ROOT, one_seed, run
from failures import Failure
from tridrop.dvc_record import RECORDS, keep_records, record, restore

NOTHING = "Nothing to be done"
GIT = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
MODELS_KEPT = "every trained model byte for byte (SHA-256); only what the change affects reruns"

FAILURES = [
    Failure("DVC", "`dvc exp run -S config/config.yaml:...` after `snakemake` and a git commit",
            "Recording the outputs in DVC's cache and dvc.lock: dvc commit --force pipeline",
            MODELS_KEPT),
    Failure("DVC", "a new model trained by `snakemake` after `dvc repro`, then `dvc exp run -S`",
            "Recording the outputs in DVC's cache and dvc.lock", MODELS_KEPT),
    Failure("DVC", "a partial `snakemake` run (a target other than `all`)",
            "not recording the outputs in dvc.lock: this was a partial run",
            "the outputs; the warning says `dvc exp run` would delete them until a complete run"),
    Failure("DVC", "`dvc exp run -S presets...` without the file name",
            "Could not override 'presets.demo.figures.mask_width'",
            "everything: DVC stops before running or checking out anything"),
    Failure("DVC", "`results/` a symbolic link to another disk, after a complete `snakemake` run",
            "not recording the outputs in dvc.lock: results/ is a symbolic link to",
            "the outputs; the warning says to make results/ a folder of the repository"),
    Failure("DVC", "`dvc commit` failing at the end of a run (here: an output missing)",
            "failed (1): ERROR: failed to commit pipeline - output 'results/demo/data' does not exist",
            "the outputs; the warning gives DVC's reason and what `dvc exp run` would delete"),
]  # fmt: skip


def sha256(root: Path, pattern: str = "model.pt") -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "results").rglob(pattern))
    }


def commit(root: Path) -> None:
    run([*GIT, "add", "-A"], root)
    run([*GIT, "commit", "-qm", "results"], root)


def documented_set(assignment: str) -> list[str]:
    """`dvc exp run -S` in the form that config/config.yaml's header comment documents."""
    header = (ROOT / "config/config.yaml").read_text().split("\npreset:")[0]
    prefix = re.search(r"dvc exp run -S (\S*:)presets\.", header)
    assert prefix, header
    return ["dvc", "exp", "run", "-S", prefix.group(1) + assignment]


def assert_clean(root: Path) -> None:
    """Both tools agree that nothing is to be done."""
    dry = run(["snakemake", "-n"], root)
    assert NOTHING in dry.stdout + dry.stderr
    assert "didn't change, skipping" in run(["dvc", "repro"], root).stdout
    assert "up to date" in run(["dvc", "status"], root).stdout


@pytest.mark.slow
def test_exp_run_after_snakemake_keeps_every_model(workflow_copy: Path):
    root = one_seed(workflow_copy)
    proc = run(["snakemake", "--cores", "2"], root)
    assert FAILURES[0].seen in proc.stderr
    commit(root)
    models, mask = sha256(root), sha256(root, "triangular_mask.png")
    assert len(models) >= 7

    # The reported sequence: an experiment that changes one figure's parameter.
    proc = run(documented_set("presets.demo.figures.mask_width=3"), root)
    out = proc.stdout + proc.stderr
    assert "No file hash info" not in out
    assert "rule plot_mask:" in out and "rule ae_train" not in out
    assert sha256(root) == models
    assert sha256(root, "triangular_mask.png") != mask  # the changed parameter's output
    assert_clean(root)
    assert sha256(root) == models

    # After DVC ran the pipeline, Snakemake trains one more model (a new fixed-width baseline);
    # then another experiment. The new model was unknown to dvc.lock before Snakemake's record.
    commit(root)
    cfg_path = root / "config/config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["presets"]["demo"]["autoencoders"]["digits"]["fixed_widths"] = [2, 3]
    cfg_path.write_text(yaml.safe_dump(cfg))
    assert FAILURES[1].seen in run(["snakemake", "--cores", "2"], root).stderr
    commit(root)
    models = sha256(root)
    assert "results/demo/runs/digits/fixed3/seed0/model.pt" in models
    proc = run(documented_set("presets.demo.figures.mask_width=2"), root)
    assert "No file hash info" not in proc.stdout + proc.stderr
    assert sha256(root) == models
    assert_clean(root)


@pytest.mark.slow
def test_a_queued_experiment_reruns_only_what_it_changes(workflow_copy: Path):
    """A queued experiment runs in a fresh checkout (.dvc/tmp/exps): every file has a new time
    and Snakemake's records are not there; it used to rerun 34 of 44 jobs (heads retrained) for
    a change of one figure, by accident of the checkout order."""
    root = one_seed(workflow_copy)
    run(["snakemake", "--cores", "2"], root)
    commit(root)
    models, mask = sha256(root), sha256(root, "triangular_mask.png")
    queue = documented_set("presets.demo.figures.mask_width=3")
    queued = run([*queue[:3], "--queue", *queue[3:]], root).stdout
    name = re.search(r"Queued experiment '([^']+)'", queued).group(1)
    out = run(["dvc", "exp", "run", "--run-all"], root)
    ran = set(re.findall(r"^(?:local)?rule (\w+):", out.stdout + out.stderr, re.M))
    # The figure and the record of the resolved config (it holds the figure's settings).
    assert ran == {"plot_mask", "environment", "all"}, ran
    assert "outputs have their recorded times back" in out.stdout + out.stderr
    run(["dvc", "exp", "apply", name], root)
    assert sha256(root) == models and sha256(root, "triangular_mask.png") != mask


TINY_SNAKEFILE = """
rule all:
    input: "results/demo/b.txt"

rule a:
    input: "src/code.py"
    output: directory("results/demo/a")
    shell: "mkdir {output} && cp {input} {output}/"

rule b:
    input: "results/demo/a", "src/code.py"
    output: "results/demo/b.txt"
    params: width=config.get("width", 1)
    shell: "echo {params.width} > {output}"
"""


def snakemake_plan(root: Path, *args: str) -> set[str]:
    out = run(["snakemake", "-n", "--cores", "1", *args], root)
    return set(re.findall(r"^(?:local)?rule (\w+):", out.stdout + out.stderr, re.M)) - {"all"}


@pytest.mark.slow
def test_records_and_times_come_back_in_a_fresh_checkout(tmp_path: Path):
    """What `dvc exp run --queue` makes of a workspace: the same files, all of them new, in
    another order, without .snakemake/. `restore` puts Snakemake's view back."""
    repo, copy = tmp_path / "repo", tmp_path / "copy"
    (repo / "src").mkdir(parents=True)
    (repo / "src/code.py").write_text("x = 1\n")
    (repo / "Snakefile").write_text(TINY_SNAKEFILE)
    run(["snakemake", "--cores", "1"], repo)
    assert keep_records(repo, "demo") == 2

    def files(folder: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    kept, records = files(repo / "results/demo" / RECORDS), files(repo / ".snakemake/metadata")
    os.utime(repo / "results/demo/a/.snakemake_timestamp")  # a folder looks newer than b.txt
    run(["snakemake", "--touch", "--cores", "1"], repo)
    assert files(repo / ".snakemake/metadata") != records  # b's record: new times, nothing else
    keep_records(repo, "demo")
    assert files(repo / "results/demo" / RECORDS) == kept  # so dvc.lock stays as it was
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".snakemake"))
    for i, path in enumerate(sorted(copy.rglob("*"))):  # results/ first: the sources look newer
        os.utime(path, (2e9 + i, 2e9 + i))
    assert snakemake_plan(copy) == {"a", "b"}  # what the queue saw: every job looks stale
    dvc = {"DVC_ROOT": str(repo)}
    assert restore(copy, "demo", dvc) == 2
    assert snakemake_plan(copy) == set()
    assert snakemake_plan(copy, "--config", "width=2") == {"b"}  # a changed param still reruns
    (copy / "src/code.py").write_text("x = 2\n")
    assert snakemake_plan(copy) == {"a", "b"}  # so does edited code
    assert restore(repo, "demo", dvc) == 0  # the workspace itself is left alone


def test_partial_run_is_not_recorded_and_says_why(workflow_copy: Path):
    said: list[str] = []
    target = "results/demo/figures/triangular_mask.png"
    assert not record(workflow_copy, "demo", [target], say=said.append)
    assert FAILURES[2].seen in said[0] and "`dvc exp run`" in said[0]
    assert not (workflow_copy / "dvc.lock").exists()


def test_a_symlinked_results_folder_is_refused_in_one_line(workflow_copy: Path, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("other_disk")
    (elsewhere / "demo").mkdir()
    (workflow_copy / "results").symlink_to(elsewhere)
    said: list[str] = []
    assert not record(workflow_copy, "demo", ["all"], say=said.append)
    assert len(said) == 1 and FAILURES[4].seen + f" {elsewhere.resolve()}" in said[0]
    assert not (workflow_copy / "dvc.lock").exists()


def test_a_failed_dvc_commit_says_why(workflow_copy: Path, monkeypatch):
    """`dvc commit --quiet` used to silence DVC's reason: "failed (1):" and nothing after it."""
    monkeypatch.setenv("PATH", f"{BIN}:{os.environ['PATH']}")
    said: list[str] = []
    assert not record(workflow_copy, "demo", ["all"], say=said.append)  # nothing was run
    assert FAILURES[5].seen in said[-1] and "`dvc exp run`" in said[-1]


def test_exp_run_without_the_file_name_changes_nothing(workflow_copy: Path):
    commit(workflow_copy)
    cmd = ["dvc", "exp", "run", "-S", "presets.demo.figures.mask_width=3"]
    proc = run(cmd, workflow_copy, check=False)
    assert proc.returncode != 0 and FAILURES[3].seen in proc.stderr
    assert not (workflow_copy / "results").exists()
    assert run(["git", "status", "--porcelain"], workflow_copy).stdout == ""


def test_a_preset_without_heads_plans_every_dvc_output(workflow_copy: Path):
    """dvc.yaml declares folders (data, runs, ...), none of them head-only: a preset without
    `heads:` produces every declared output, so `dvc repro` does not fail on a missing one."""
    cfg_path = workflow_copy / "config/config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    del cfg["presets"]["demo"]["heads"]
    cfg_path.write_text(yaml.safe_dump(cfg))
    planned = {line.split("\t")[0] for line in run(["snakemake", "-n", "--summary"],
                                                   workflow_copy).stdout.splitlines()[1:]}  # fmt: skip
    stage = yaml.safe_load((workflow_copy / "dvc.yaml").read_text())["stages"]["pipeline"]
    for out in stage["outs"] + stage["metrics"]:
        path = next(iter(out)).replace("${preset}", "demo")
        if path.endswith(RECORDS):
            continue  # the stage's `keep` step writes it after Snakemake, whatever ran
        assert any(p == path or p.startswith(path + "/") for p in planned), path
