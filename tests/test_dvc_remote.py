"""DVC remote storage: push the cached data and models, lose them, pull them back identical.

A local-directory remote stands in for S3/SSH/GCS (the same `dvc push`/`dvc pull`); the local
DVC cache is removed too, so the files can only come back from the remote.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import one_seed, run
from tridrop.dvc_record import RECORDS

pytestmark = pytest.mark.slow
NOTHING = "Nothing to be done"


def nothing_to_do(root: Path) -> bool:
    proc = run(["snakemake", "-n"], root)
    return NOTHING in proc.stdout + proc.stderr


def cached_outputs(root: Path, preset: str = "demo") -> list[Path]:
    """The outputs of dvc.yaml that go to the DVC cache (and a remote), not to git."""
    outs = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["pipeline"]["outs"]
    paths = []
    for out in outs:
        path, opts = (out, {}) if isinstance(out, str) else next(iter(out.items()))
        if (opts or {}).get("cache", True):
            paths.append(root / path.replace("${preset}", preset))
    return paths


def digests(root: Path) -> dict[str, str]:
    """sha256 of every file under results/, by path; not Snakemake's records kept there
    (tridrop.dvc_record.RECORDS), which `snakemake --touch` rewrites."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "results").rglob("*"))
        if p.is_file() and RECORDS not in p.parts
    }


def test_push_remove_pull_gives_identical_files(workflow_copy: Path, tmp_path: Path):
    root = one_seed(workflow_copy)
    run(["dvc", "repro"], root)
    cached = cached_outputs(root)
    assert cached and all(p.exists() for p in cached)
    before = digests(root)
    models = [f for f in before if f.endswith("model.pt")]
    cached_dirs = tuple(str(p.relative_to(root)) for p in cached)
    assert models and all(f.startswith(cached_dirs) for f in models)

    # The README's commands, with a folder as the remote.
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "--default", "storage", str(remote)], root)
    pushed = run(["dvc", "push"], root).stdout
    assert "pushed" in pushed and any(remote.rglob("*")), pushed

    # A machine without the data: no workspace copies, no local cache.
    for path in cached:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    shutil.rmtree(root / ".dvc/cache")
    assert not any(f.endswith("model.pt") for f in digests(root))
    run(["dvc", "pull"], root)
    assert digests(root) == before

    # The pulled files are newer than what was made from them. Snakemake's records (.snakemake/)
    # hold checksums of files but not of directory outputs (the feature caches), so even in this
    # workspace the documented `snakemake --touch` is needed; it reruns nothing.
    run(["snakemake", "--touch", "--cores", "1"], root)
    assert nothing_to_do(root)
    assert digests(root) == before

    # A fresh clone (git holds the small results and .dvc/config, the remote the rest) has no
    # such records: every pulled file is newer than the results committed in git, so Snakemake
    # would redo those jobs. `snakemake --touch` marks the pulled outputs up to date.
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    run([*git, "add", "-A"], root)
    run([*git, "commit", "-qm", "results"], root)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(root), str(clone)], tmp_path)
    run(["dvc", "pull"], clone)
    assert digests(clone) == before
    assert not nothing_to_do(clone)
    run(["snakemake", "--touch", "--cores", "1"], clone)
    assert nothing_to_do(clone)
    assert digests(clone) == before
    assert "up to date" in run(["dvc", "status"], clone).stdout
