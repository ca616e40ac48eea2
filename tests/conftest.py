"""Shared fixtures: the repository root and a tiny copy of the workflow to run end to end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's snakemake, dvc and tridrop


def run(
    cmd: list[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run a command with the venv's tools first on PATH (and ``env`` added); fail with its
    output if asked."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


TINY = ROOT / "tests" / "tiny.yaml"


def tiny_config(config: dict) -> dict:
    """The config with the tiny preset of tests/tiny.yaml in place of the demo's (seconds)."""
    config["presets"]["demo"] = yaml.safe_load(TINY.read_text())["presets"]["tiny"]
    return config


def copy_workflow(dest: Path) -> Path:
    """Copy the tracked and untracked-not-ignored files (without results) into a new git repo."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
        text=True, check=True,
    ).stdout.split()  # fmt: skip
    for name in files:
        if name.startswith("results/") or name == "dvc.lock" or not (ROOT / name).is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    cfg_path = dest / "config" / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny_config(yaml.safe_load(cfg_path.read_text()))))
    run(["git", "init", "-q"], dest)
    return dest


def one_seed(root: Path) -> Path:
    """Keep one seed per experiment in a workflow copy: the same rules, fewer jobs."""
    cfg_path = root / "config" / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    for spec in cfg["presets"]["demo"]["autoencoders"].values():
        spec["seeds"] = spec["seeds"][:1]
    cfg_path.write_text(yaml.safe_dump(cfg))
    return root


@pytest.fixture
def workflow_copy(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path)
