"""Before a Slurm run: will the executor see its jobs end?

snakemake-executor-plugin-slurm (2.8) learns that a job ended only from its status query,
``sacct`` or ``squeue``. When every attempt of one query fails (``sacct`` on a cluster without
job accounting says "Slurm accounting storage is disabled"), it drops the running jobs from its
watch list without a word: Snakemake then waits for them forever, and SIGTERM cannot end the
run (nothing is left to cancel). ``squeue`` forgets a finished job after ``MinJobAge``; a job
forgotten before the plugin's next check is never seen to end either. The workflow's
``onstart`` calls :func:`problem` once, before the first submission, and stops the run with its
message instead.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess

# The plugin waits at most this long between two status checks (its `max_sleep_time`): squeue
# must keep a finished job at least that long, or the job's end can be missed.
LONGEST_WAIT_S = 180
QUERY_TIMEOUT_S = 60  # the plugin's own limit for one status query


def status_command(chosen: str | None, init_s: int) -> tuple[str, int | None]:
    """The status command the plugin will run (as its ``check_active_jobs`` picks it from
    ``--slurm-status-command``) and the cluster's MinJobAge in seconds (None: unknown)."""
    from snakemake_executor_plugin_slurm.job_status_query import (
        get_min_job_age,
        is_query_tool_available,
    )

    min_age = get_min_job_age()
    has_sacct = is_query_tool_available("sacct")
    name = chosen or ("sacct" if has_sacct else "squeue")
    if name == "squeue" and (min_age is None or min_age < 3 * init_s) and has_sacct:
        name = "sacct"
    if name == "sacct" and not has_sacct:
        name = "squeue"
    return name, min_age


def query_fails(name: str) -> str | None:
    """What the plugin's status query says when it fails (its exact command), or None."""
    from snakemake_executor_plugin_slurm.job_status_query import (
        query_job_status_sacct,
        query_job_status_squeue,
    )

    build = query_job_status_sacct if name == "sacct" else query_job_status_squeue
    try:
        proc = subprocess.run(
            shlex.split(build("tridrop-status-check")),
            capture_output=True,
            text=True,
            timeout=QUERY_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return f"did not answer within {QUERY_TIMEOUT_S} s"
    except OSError as e:
        return f"could not run ({e})"
    if proc.returncode == 0:
        return None
    said = " ".join((proc.stderr or proc.stdout).split())
    return f"says '{said}' (exit {proc.returncode})" if said else f"exits {proc.returncode}"


def problem(chosen: str | None, init_s: int) -> str | None:
    """Why the Slurm executor would not see a job end, as one message; None when it will.

    ``chosen`` is ``--slurm-status-command`` (None: the plugin's default), ``init_s``
    ``--slurm-init-seconds-before-status-checks``.
    """
    name, min_age = status_command(chosen, init_s)
    age = "unknown" if min_age is None else f"{min_age} s"
    stop = "The Slurm executor would never see a job end, so Snakemake would wait forever."
    failed = query_fails(name)
    if failed and name == "sacct":
        if chosen == "squeue":
            why = (
                "is unknown (`scontrol show config` fails)"
                if min_age is None
                else f"({age}) is under 3 × --slurm-init-seconds-before-status-checks "
                f"({3 * init_s} s)"
            )
            fix = (
                f"lower --slurm-init-seconds-before-status-checks to {min_age // 3} or less"
                if min_age is not None and min_age >= LONGEST_WAIT_S
                else f"squeue needs MinJobAge of at least {LONGEST_WAIT_S} s: ask the "
                "cluster's admins for that, or for job accounting"
            )
            hint = f"The executor queries sacct instead of squeue because MinJobAge {why}; {fix}."
        else:
            hint = (
                "Use `--slurm-status-command squeue` (profiles/slurm sets it): squeue needs no "
                f"accounting, only MinJobAge of at least {LONGEST_WAIT_S} s (here: {age})."
            )
        return f"Slurm job status query fails: sacct {failed}. {stop} {hint}"
    if failed:
        return (
            f"Slurm job status query fails: squeue {failed}. {stop} "
            "Check that the Slurm controller answers (`squeue`, `scontrol ping`)."
        )
    if name == "squeue" and min_age is not None and min_age < LONGEST_WAIT_S:
        if shutil.which("sacct") and not query_fails("sacct"):
            hint = "Use `--slurm-status-command sacct`: job accounting answers here."
        else:
            hint = (
                f"Ask the cluster's admins for MinJobAge of at least {LONGEST_WAIT_S} s, "
                "or for job accounting."
            )
        return (
            f"Slurm forgets a finished job after MinJobAge ({age}), sooner than the executor's "
            f"longest wait between status checks ({LONGEST_WAIT_S} s), so squeue can miss a "
            f"job's end and Snakemake would wait forever. {hint}"
        )
    return None
