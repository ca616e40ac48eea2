"""The tiny workflow through a real Slurm (`--executor slurm`) gives the results of a local run,
and a run whose job ends the executor cannot see stops at once with the reason (tridrop.slurm).

CI starts a one-node Slurm first (`.ci/slurm.sh up`, called by `.ci/run`); elsewhere the tests
that need it are skipped, with the reason, when no `sinfo` is installed or no Slurm controller
answers. The status checks run anywhere, against stand-in `sacct`, `squeue` and `scontrol`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import BIN, ROOT, copy_workflow, one_seed, run
from failures import Failure

ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
# The plugin's first status check comes this many seconds after a submission, and every
# check that finds no finished job waits 10 s longer: a short first wait keeps the test quick.
FIRST_CHECK_S = "3"
NO_ACCOUNTING = "Slurm accounting storage is disabled"  # what sacct says without slurmdbd
STOPPED = "everything: the run stops before the first job instead of waiting forever"
FAILURES = [
    Failure("Slurm", "`--slurm-status-command sacct` (or the plugin's default, without the "
            "profile) on a cluster without job accounting",
            f"Slurm job status query fails: sacct says '{NO_ACCOUNTING}'", STOPPED),
    Failure("Slurm", "the profile on a cluster without job accounting whose MinJobAge is under "
            "3 × the first status check's wait (the plugin falls back from squeue to sacct)",
            "The executor queries sacct instead of squeue because MinJobAge (60 s)", STOPPED),
    Failure("Slurm", "squeue status on a cluster whose MinJobAge is under 180 s",
            "sooner than the executor's longest wait between status checks (180 s)", STOPPED),
    Failure("Slurm", "no Slurm controller answers `squeue`",
            "Slurm job status query fails: squeue says", STOPPED),
]  # fmt: skip


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


def executor_dag(root: Path) -> Path:
    """The demo's autoencoder at one seed, TD and no TD only: every kind of job (data, train,
    sweep, analysis, figures, aggregate, claims) in 23 jobs. Each Slurm job costs the
    executor's status checks (10 s more at each check that finds none finished), so the 54 jobs
    of both families took 11 min; which rules the profile fits is test_profile_resources'."""
    one_seed(root)
    path = root / "config" / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    demo = cfg["presets"]["demo"]
    demo.pop("heads")
    ae = next(iter(demo["autoencoders"].values()))
    ae["variants"] = {k: ae["variants"][k] for k in ("td", "notd")}
    ae["pca"] = False
    path.write_text(yaml.safe_dump(cfg))
    return root


@pytest.mark.slow
def test_slurm_run_equals_local_run(tmp_path: Path, capsys):
    reason = slurm_unavailable()
    if reason:
        pytest.skip(reason)
    local = executor_dag(copy_workflow(tmp_path / "local"))
    cluster = executor_dag(copy_workflow(tmp_path / "slurm"))

    # The profile as committed: its status command (squeue) works without job accounting.
    cmd = [
        "snakemake", "--workflow-profile", "profiles/slurm", "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks", FIRST_CHECK_S,
        "--slurm-keep-successful-logs",
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


# ---------------------------------------------------------------- job ends the executor can see


def stand_ins(
    bin_dir: Path, sacct: str | None, squeue: str | None = "", min_job_age: int | None = 300
) -> Path:
    """Stand-in Slurm commands in ``bin_dir``: ``sacct`` and ``squeue`` print nothing and
    succeed when given "", fail with the given message otherwise, and are missing when None;
    ``scontrol show config`` reports ``min_job_age`` (None: it fails), and every other
    ``scontrol`` call goes to the real one."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, said in (("sacct", sacct), ("squeue", squeue)):
        if said is not None:
            body = f"echo '{said}' >&2; exit 1" if said else "exit 0"
            (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
    config = "exit 1" if min_job_age is None else f"echo 'MinJobAge = {min_job_age} sec'"
    real = shutil.which("scontrol") or "false"
    (bin_dir / "scontrol").write_text(
        f'#!/bin/sh\nif [ "$1 $2" = "show config" ]; then {config}; else exec {real} "$@"; fi\n'
    )
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize(
    ("chosen", "sacct", "squeue", "min_job_age", "seen"),
    [
        # No accounting: the profile's squeue sees every job end.
        ("squeue", NO_ACCOUNTING, "", 300, None),
        ("sacct", NO_ACCOUNTING, "", 300, FAILURES[0].seen),
        (None, NO_ACCOUNTING, "", 300, FAILURES[0].seen),  # the plugin's default is sacct
        ("squeue", NO_ACCOUNTING, "", 60, FAILURES[1].seen),
        ("squeue", NO_ACCOUNTING, "", None, "MinJobAge is unknown"),
        # Accounting: the plugin's own fallback to sacct works; squeue alone may miss a job.
        ("squeue", "", "", 60, None),
        ("squeue", "", "", 150, FAILURES[2].seen),
        # No sacct installed: squeue, whatever MinJobAge.
        ("squeue", None, "", None, None),
        ("squeue", None, "", 60, FAILURES[2].seen),
        ("squeue", NO_ACCOUNTING, "slurm_load_jobs error: Unable to contact slurm controller",
         300, FAILURES[3].seen),
    ],
)  # fmt: skip
def test_status_problem(tmp_path, monkeypatch, chosen, sacct, squeue, min_job_age, seen):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    from tridrop.slurm import problem

    # Only the stand-ins and `which`, which the plugin asks where sacct is.
    bin_dir = stand_ins(tmp_path / "bin", sacct, squeue, min_job_age)
    (bin_dir / "which").symlink_to(shutil.which("which"))
    monkeypatch.setenv("PATH", str(bin_dir))
    said = problem(chosen, 40)
    if seen is None:
        assert said is None
    else:
        assert said is not None and seen in said, said
        assert "Snakemake would wait forever" in said


def test_status_problem_names_a_shorter_first_wait(tmp_path, monkeypatch):
    """MinJobAge long enough for squeue, but the first check's wait makes the plugin use sacct."""
    pytest.importorskip("snakemake_executor_plugin_slurm")
    from tridrop.slurm import problem

    bin_dir = stand_ins(tmp_path / "bin", NO_ACCOUNTING, "", 200)
    (bin_dir / "which").symlink_to(shutil.which("which"))
    monkeypatch.setenv("PATH", str(bin_dir))
    said = problem("squeue", 100)
    assert said is not None and "MinJobAge (200 s) is under 3 × " in said, said
    assert "lower --slurm-init-seconds-before-status-checks to 66 or less" in said
    assert problem("squeue", 66) is None


def bounded(cmd: list[str], cwd: Path, env: dict[str, str], limit_s: int) -> tuple[int | None, str]:
    """Run a Snakemake command for at most ``limit_s`` (a hang fails, not blocks, the test);
    cancel the Slurm jobs it leaves behind. Returns the exit status (None: killed) and output."""
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, text=True, capture_output=True, timeout=limit_s
        )
        code, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        # What a killed run wrote comes undecoded (bytes) on POSIX.
        parts = [
            x.decode(errors="replace") if isinstance(x, bytes) else x or ""
            for x in (e.stdout, e.stderr)
        ]
        code, out = None, "".join(parts)
    run_id = re.search(r"SLURM run ID: (\S+)", out)
    if code != 0 and run_id:
        subprocess.run(["scancel", "--name", run_id.group(1)], check=False)
    return code, out


@pytest.mark.slow
def test_profile_sees_job_end_without_accounting(tmp_path: Path):
    """The reported hang: the job completed, sacct failed five times, Snakemake waited forever."""
    reason = slurm_unavailable()
    if reason:
        pytest.skip(reason)
    root = copy_workflow(tmp_path / "wf")
    fakes = stand_ins(tmp_path / "bin", sacct=NO_ACCOUNTING, squeue=None)
    (fakes / "scontrol").unlink()  # the real squeue and MinJobAge (an hour in .ci/slurm.sh)
    env = {**ENV, "PATH": f"{fakes}{os.pathsep}{ENV['PATH']}"}
    cmd = ["snakemake", "--workflow-profile", "profiles/slurm", "--slurm-no-account",
           "--slurm-init-seconds-before-status-checks", FIRST_CHECK_S,
           "results/demo/environment.json"]  # fmt: skip
    code, out = bounded(cmd, root, env, limit_s=240)
    assert code is not None, f"no end seen within 240 s:\n{out}"
    assert code == 0, out
    assert "1 of 1 steps (100%) done" in out
    assert (root / "results/demo/environment.json").stat().st_size > 0


@pytest.mark.slow
def test_run_stops_when_no_job_end_can_be_seen(tmp_path: Path):
    """No accounting and a MinJobAge too short for the plugin's squeue: it would fall back to
    the failing sacct. The run stops with the reason before submitting anything."""
    reason = slurm_unavailable()
    if reason:
        pytest.skip(reason)
    root = copy_workflow(tmp_path / "wf")
    fakes = stand_ins(tmp_path / "bin", sacct=NO_ACCOUNTING, squeue=None, min_job_age=60)
    env = {**ENV, "PATH": f"{fakes}{os.pathsep}{ENV['PATH']}"}
    cmd = ["snakemake", "--workflow-profile", "profiles/slurm", "--slurm-no-account",
           "results/demo/environment.json"]  # fmt: skip
    start = time.monotonic()
    code, out = bounded(cmd, root, env, limit_s=180)
    assert code is not None, f"still running after 180 s:\n{out}"
    assert code != 0
    assert FAILURES[1].seen in out and FAILURES[0].seen in out
    assert "submitted with SLURM jobid" not in out
    assert time.monotonic() - start < 120
