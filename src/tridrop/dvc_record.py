"""Keep DVC's record (dvc.lock) of the pipeline's outputs in step with a finished Snakemake run.

``dvc exp run`` (and ``dvc checkout``) first make the workspace match dvc.lock, with ``--force``:
an output of the stage that dvc.lock has no hash for is deleted ("No file hash info found for
'results/demo/runs'. It won't be created."), and one with an older hash is replaced by the older
version from the cache. Outputs that Snakemake made on its own are not in dvc.lock, so without
this record the next ``dvc exp run`` would delete or revert every model trained since the last
``dvc repro``. After a complete run, :func:`record` runs ``dvc commit --force pipeline``: DVC
hashes the outputs into its cache and dvc.lock, and ``dvc exp run`` then keeps them byte for byte.

A queued experiment (``dvc exp run --queue``, ``--temp``) runs in a fresh copy of the
repository (``.dvc/tmp/exps/...``): git and DVC check every file out anew, so all have the
checkout time, in no particular order, and Snakemake's records (``.snakemake/``, untracked) are
not there. Snakemake then reruns every job whose inputs happen to look newer (most of them), and
cannot see a changed param at all. So each recorded run also keeps Snakemake's records of the
preset's outputs as a stage output (:data:`RECORDS`, :func:`keep_records`), and the stage first
calls :func:`restore`: in such a copy it puts the records back and gives each output the time
its job ended, so only what the experiment changed reruns.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import yaml

STAGE = "pipeline"
COMMAND = f"dvc commit --force {STAGE}"
METADATA = Path(".snakemake/metadata")  # Snakemake's record of each output, one file each
RECORDS = ".snakemake-records"  # their copy in results/<preset>/, a stage output (dvc.yaml)


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def skip_reason(root: Path, preset: str, targets: Iterable[str], partial: bool) -> str | None:
    """Why this run's outputs are not recorded (None: record them), or '' when DVC is not in use.

    A partial run (other targets than ``all``, ``--until``, ``--omit-from``...) is not
    recorded: DVC would then call the stage up to date while Snakemake still has jobs to do.
    """
    if os.environ.get("DVC_STAGE"):
        return ""  # DVC runs this Snakemake itself (dvc repro, dvc exp run) and records the outputs
    if not (root / ".dvc").is_dir() or not (root / "dvc.yaml").is_file():
        return ""
    cfg_path = root / "config" / "config.yaml"
    stage_preset = yaml.safe_load(cfg_path.read_text()).get("preset")
    if preset != stage_preset:
        return (
            f"this run's preset is {preset!r} but dvc.yaml's stage follows {cfg_path.name}, "
            f"preset: {stage_preset!r}"
        )
    if partial or set(targets) - {"all"}:
        return "this was a partial run (targets other than `all`)"
    if (outside := _linked_out(root, Path("results") / preset)) is not None:
        link, target = outside
        return (
            f"{link}/ is a symbolic link to {target}, outside the repository, and DVC records "
            f"only outputs inside it; make {link}/ a folder of the repository (a bind mount of "
            "the other disk works, a symbolic link does not)"
        )
    if shutil.which("dvc") is None:
        return "the `dvc` command is not on PATH"
    return None


def _linked_out(root: Path, folder: Path) -> tuple[Path, Path] | None:
    """The first of ``folder`` and its parents (below ``root``) that is a symbolic link leading
    out of the repository, with where it leads; DVC refuses to commit outputs under it."""
    top = root.resolve()
    for part in reversed([folder, *folder.parents][:-1]):
        path = root / part
        if path.is_symlink() and not path.resolve().is_relative_to(top):
            return part, path.resolve()
    return None


def record(
    root: Path | str,
    preset: str,
    targets: Iterable[str] = (),
    partial: bool = False,
    say: Callable[[str], None] = _say,
) -> bool:
    """After a successful Snakemake run: put its outputs in DVC's cache and dvc.lock.

    Returns True when they were recorded. Never raises: a failure is reported with the command
    to run by hand and what is at risk until then.
    """
    root = Path(root)
    risk = (
        f"DVC does not know the outputs of this run in results/{preset}/: until it does, "
        "`dvc exp run` and `dvc checkout` would delete or revert them (trained models "
        f"included). Finish with a complete `snakemake` run or `dvc repro`, or run `{COMMAND}` "
        "with that preset in config/config.yaml."
    )
    reason = skip_reason(root, preset, targets, partial)
    if reason == "":
        return False
    if reason is not None:
        say(f"WARNING: not recording the outputs in dvc.lock: {reason}. {risk}")
        return False
    say(f"Recording the outputs in DVC's cache and dvc.lock: {COMMAND}")
    keep_records(root, preset)
    # Not --quiet: it silences DVC's error message too, and that is the reason to show.
    proc = subprocess.run(
        ["dvc", "commit", "--force", STAGE],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip() or "DVC gave no message"
        say(f"WARNING: `{COMMAND}` failed ({proc.returncode}): {detail}\n{risk}")
        return False
    return True


def _output(record: Path, metadata: Path) -> str:
    """The output a Snakemake record file is about: its path under ``metadata``, base64 (long
    names are split into folders marked ``@``; snakemake.persistence)."""
    parts = record.relative_to(metadata).parts
    return base64.urlsafe_b64decode("".join(p.removeprefix("@") for p in parts)).decode()


def _records(root: Path, metadata: Path) -> Iterator[tuple[Path, str]]:
    """Each record file under ``root / metadata`` with the output path it is about."""
    top = root / metadata
    for dirpath, _, files in os.walk(top):
        for name in files:
            record = Path(dirpath) / name
            try:
                yield record, _output(record, top)
            except (ValueError, UnicodeDecodeError):
                continue  # not a record (Snakemake keeps nothing else there today)


# What changes in a record when Snakemake only touches an output (`snakemake --touch`, a rerun
# that changes nothing): a kept record that differs in these alone stays as it is, so dvc.lock
# does not change (and ask for a `dvc push`) while the outputs do not.
VOLATILE = ("job_hash", "starttime", "endtime")


def _same_record(a: Path, b: Path) -> bool:
    try:
        x, y = (json.loads(p.read_text()) for p in (a, b))
    except (OSError, ValueError):
        return False
    return {k: v for k, v in x.items() if k not in VOLATILE} == {
        k: v for k, v in y.items() if k not in VOLATILE
    }


def keep_records(root: Path | str, preset: str) -> int:
    """Copy Snakemake's records of ``results/<preset>/`` outputs into :data:`RECORDS` there (a
    stage output: DVC stores it with the outputs it describes). Returns how many."""
    root = Path(root)
    dest = root / "results" / preset / RECORDS
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    n = 0
    for record, output in _records(root, METADATA):
        if output.startswith(f"results/{preset}/"):
            rel = record.relative_to(root / METADATA)
            kept = dest / rel
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(kept if _same_record(kept, record) else record, tmp / rel)
            n += 1
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return n


def fresh_copy(root: Path, env: Mapping[str, str] = os.environ) -> bool:
    """Whether DVC runs the stage in a copy of the repository (a queued or ``--temp``
    experiment): DVC_ROOT then names the repository, not the folder the stage runs in."""
    repo = env.get("DVC_ROOT")
    return bool(repo) and Path(repo).resolve() != root.resolve()


def restore(root: Path | str, preset: str, env: Mapping[str, str] = os.environ) -> int:
    """In DVC's fresh copy of the repository: put the kept records back into ``.snakemake/`` and
    set each recorded output's modification time to when its job ended, so Snakemake sees the
    outputs as older than what is made from them, as they were. Sources keep the checkout time:
    Snakemake compares their checksums with its records, so only edited ones rerun jobs.
    Elsewhere (the workspace) nothing is touched. Returns how many outputs got their time."""
    root = Path(root)
    if not fresh_copy(root, env):
        return 0
    kept = Path("results") / preset / RECORDS
    for record, _ in _records(root, kept):
        target = root / METADATA / record.relative_to(root / kept)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(record, target)
    n = 0
    for record, output in _records(root, METADATA):
        path = root / output
        if Path(output).is_absolute() or ".." in Path(output).parts or not path.exists():
            continue  # only outputs inside the copy
        try:
            meta = json.loads(record.read_text())
            end = float(meta["endtime"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if meta.get("incomplete") in (True, "True"):
            continue
        if path.is_dir() and (path / ".snakemake_timestamp").exists():
            path = path / ".snakemake_timestamp"  # what Snakemake reads as a folder's time
        os.utime(path, (end, end))
        n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    """``python -m tridrop.dvc_record restore|keep PRESET``: the DVC stage's first and last
    steps around Snakemake (dvc.yaml). ``keep`` runs even when Snakemake had nothing to do
    (its onsuccess hook does not run then) so the stage always has its records output."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("restore", "keep"):
        _say("usage: python -m tridrop.dvc_record restore|keep PRESET")
        return 2
    if args[0] == "keep":
        keep_records(Path.cwd(), args[1])
    elif n := restore(Path.cwd(), args[1]):
        _say(f"DVC's fresh copy: {n} outputs have their recorded times back (Snakemake's records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
