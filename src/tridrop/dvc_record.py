"""Keep DVC's record (dvc.lock) of the pipeline's outputs in step with a finished Snakemake run.

``dvc exp run`` (and ``dvc checkout``) first make the workspace match dvc.lock, with ``--force``:
an output of the stage that dvc.lock has no hash for is deleted ("No file hash info found for
'results/demo/runs'. It won't be created."), and one with an older hash is replaced by the older
version from the cache. Outputs that Snakemake made on its own are not in dvc.lock, so without
this record the next ``dvc exp run`` would delete or revert every model trained since the last
``dvc repro``. After a complete run, :func:`record` runs ``dvc commit --force pipeline``: DVC
hashes the outputs into its cache and dvc.lock, and ``dvc exp run`` then keeps them byte for byte.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml

STAGE = "pipeline"
COMMAND = f"dvc commit --force {STAGE}"


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
