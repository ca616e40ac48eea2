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


def tiny_config(config: dict) -> dict:
    """The default preset shrunk to seconds: few epochs, 2 seeds, a 4-unit latent, 3 variants."""
    demo = config["presets"]["demo"]
    for spec in demo["autoencoders"].values():
        spec.update(hidden=16, latent=4, epochs=3, seeds=[0, 1], recon_images=3,
                    recon_widths=[1, 2, 4], headline_widths=[1, 2])  # fmt: skip
        # Baselines and features: one fixed width, PCA, a 2-unit PCAAE; three variants (one of
        # them with another objective, so the gap report has a variant to report).
        spec.update(fixed_widths=[2], pca=True, feature_images=40, pcaae_widths=2)
        keep = ("td", "notd", "matryoshka")
        spec["variants"] = {k: v for k, v in spec["variants"].items() if k in keep}
    for spec in demo.get("heads", {}).values():
        spec.update(hidden=16, epochs=2, seeds=[0], widths=[1, 2, 4, 8, 16], fixed_widths=[4],
                    rank_samples=200)  # fmt: skip
    demo["figures"].update(mask_batch=8, mask_width=4)
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
