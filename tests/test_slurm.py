"""The tiny workflow through a real Slurm (`--executor slurm`) gives the results of a local run.

CI starts a one-node Slurm first (`.ci/slurm.sh up`, called by `.ci/run`); elsewhere the test is
skipped, with the reason, when no `sinfo` is installed or no Slurm controller answers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import BIN, ROOT, copy_workflow, one_seed, run

ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
# The plugin's first status check comes this many seconds after a submission, and every
# check that finds no finished job waits 10 s longer: a short first wait keeps the test quick.
FIRST_CHECK_S = "3"


def slurm_unavailable() -> str | None:
    """Why the Slurm test cannot run here, or None when a controller answers with a node up."""
    if shutil.which("sinfo") is None:
        return "no Slurm here: `sinfo` is not installed (CI starts one with `.ci/slurm.sh up`)"
    try:
        proc = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return "no Slurm controller answers (`sinfo` timed out)"
    if proc.returncode != 0:
        return f"no Slurm controller answers (`sinfo`: {proc.stderr.strip()})"
    if not set(proc.stdout.split()) & {"idle", "mix", "alloc"}:
        return f"no Slurm node is up (node states: {proc.stdout.split()})"
    return None


def jobs_in_dag(output: str) -> int:
    """The total of Snakemake's 'Job stats' table."""
    return int(re.search(r"^total\s+(\d+)", output, re.MULTILINE).group(1))


def minutes(limit: str) -> int:
    """A Slurm time limit ([days-]hours:minutes:seconds, or minutes:seconds) in minutes."""
    days, _, clock = limit.rpartition("-")
    parts = [int(x) for x in clock.split(":")]
    hours, mins, secs = [0] * (3 - len(parts)) + parts
    return int(days or 0) * 1440 + hours * 60 + mins + secs // 60


def job_resources(dry_run: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every job in a dry run's output."""
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(?:\s+.*\n)*?\s+resources: (.*)$", dry_run, re.M)
    return [(rule, dict(kv.split("=", 1) for kv in res.split(", "))) for rule, res in jobs]


def test_profile_names_existing_rules():
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    rules = set(run(["snakemake", "--list-rules"], ROOT).stdout.split())
    assert profile["executor"] == "slurm"
    assert set(profile["set-resources"]) <= rules


@pytest.mark.parametrize("device", ["cuda", "cpu"])
def test_profile_resources(device: str):
    """Runtime and memory per rule from the profile; a GPU for training jobs on a GPU run only."""
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    dry = run(
        ["snakemake", "-n", "--forceall", "--workflow-profile", "profiles/slurm",
         "--config", f"device={device}"], ROOT,
    ).stdout  # fmt: skip
    jobs = [(rule, res) for rule, res in job_resources(dry) if rule != "all"]
    assert {rule for rule, _ in jobs} >= {"prepare_data", "ae_train", "aggregate"}
    for rule, res in jobs:
        want = {**profile["default-resources"], **profile["set-resources"].get(rule, {})}
        assert int(res["runtime"]) == want["runtime"], rule
        assert int(res["mem_mb"]) == want["mem_mb"], rule
        gpu = int(res.get("gpu", 0))
        if device == "cpu" or rule == "prepare_data" or rule.startswith(("plot_", "aggregate")):
            assert gpu == 0, rule
        elif rule.endswith("_train"):
            assert gpu == 1, rule


@pytest.mark.slow
def test_slurm_run_equals_local_run(tmp_path: Path, capsys):
    reason = slurm_unavailable()
    if reason:
        pytest.skip(reason)
    local = one_seed(copy_workflow(tmp_path / "local"))
    cluster = one_seed(copy_workflow(tmp_path / "slurm"))

    cmd = [
        "snakemake", "--workflow-profile", "profiles/slurm", "--slurm-no-account",
        "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks",
        FIRST_CHECK_S, "--slurm-keep-successful-logs",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=cluster, env=ENV, text=True, capture_output=True, timeout=900)
    # The local reference runs afterwards: run beside the Slurm jobs it would slow them past
    # the plugin's second status check, which costs more than it saves.
    local_proc = run(["snakemake", "--cores", "2"], local)
    local_out = local_proc.stdout + local_proc.stderr
    out = proc.stdout + proc.stderr
    run_id = re.search(r"SLURM run ID: (\S+)", out)
    if proc.returncode != 0 and run_id:
        subprocess.run(["scancel", "--name", run_id.group(1)], check=False)
    assert proc.returncode == 0, out

    # Every job but the local target rule went to Slurm, once, and Slurm ran it to completion
    # with the profile's time limit and memory, and no GPU (the run is on the CPU).
    submitted = dict(re.findall(r"submitted with SLURM jobid (\d+) \(log: .*?/rule_(\w+)/", out))
    local_jobs = re.findall(r"^localrule (\w+):", out, re.MULTILINE)
    expected = jobs_in_dag(local_out) - len(local_jobs)
    assert local_jobs == ["all"]
    assert len(re.findall(r"submitted with SLURM jobid", out)) == len(submitted) == expected > 0
    queue = subprocess.run(
        ["squeue", "--states=all", "-h", "-o", "%i|%T|%l|%m|%b", "--name", run_id.group(1)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    seen = {row[0]: row[1:] for row in (line.split("|") for line in queue.split())}
    assert set(seen) == set(submitted)
    profile = yaml.safe_load((cluster / "profiles/slurm/config.yaml").read_text())
    for job, rule in submitted.items():
        want = {**profile["default-resources"], **profile["set-resources"].get(rule, {})}
        state, limit, mem, gres = seen[job]
        assert (state, minutes(limit), mem, gres) == (
            "COMPLETED",
            want["runtime"],
            f"{want['mem_mb']}M",
            "N/A",
        ), rule
    with capsys.disabled():
        per_rule = ", ".join(f"{r} {n}" for r, n in sorted(Counter(submitted.values()).items()))
        print(f"\nSlurm: {len(submitted)} jobs submitted and completed: {per_rule}")

    # The same numbers as the local run.
    for name in ("sweeps.csv", "tables/summary.csv"):
        pd.testing.assert_frame_equal(
            pd.read_csv(cluster / "results/demo" / name),
            pd.read_csv(local / "results/demo" / name),
            check_exact=True,
        )
    metrics = [json.loads((d / "results/demo/metrics.json").read_text()) for d in (cluster, local)]
    assert metrics[0] == metrics[1]
    assert (cluster / "results/demo/figures/triangular_mask.png").stat().st_size > 1000
