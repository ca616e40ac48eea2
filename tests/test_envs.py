"""The conda environments (envs/*.yaml) stay in step with pyproject.toml, and every rule uses one.

Creating the environments needs conda-forge, which is not reachable here, so this checks the
files: the same packages as pyproject's dependencies and its `pipeline` extra, pinned to a major.minor that pyproject
allows, conda-forge only; and `conda: CONDA_ENV` on every rule, pointing at these files.
"""

from __future__ import annotations

import re

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from conftest import ROOT

tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11+")

VARIANTS = ("cpu", "gpu")
# conda-forge names of pip packages, where they differ (per environment variant).
CONDA_NAME = {
    "torch": {"cpu": "pytorch-cpu", "gpu": "pytorch-gpu"},
    "snakemake": {"cpu": "snakemake-minimal", "gpu": "snakemake-minimal"},
    "mujoco": {"cpu": "mujoco-python", "gpu": "mujoco-python"},
}
# In the environments for their own sake: the interpreter, and what installs tridrop itself.
CONDA_ONLY = {"python", "pip", "setuptools"}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements() -> dict[str, Requirement]:
    """The core's and the `pipeline` extra's requirements: what the rules' environments need."""
    project = pyproject()["project"]
    needed = project["dependencies"] + project["optional-dependencies"]["pipeline"]
    return {r.name.lower(): r for r in map(Requirement, needed)}


def conda_deps(variant: str) -> dict[str, str]:
    """Package name -> version spec ('' when unpinned) of envs/<variant>.yaml."""
    env = yaml.safe_load((ROOT / f"envs/{variant}.yaml").read_text())
    deps = {}
    for dep in env["dependencies"]:
        assert isinstance(dep, str), f"envs/{variant}.yaml: no pip section expected, got {dep}"
        name, _, version = re.match(r"([A-Za-z0-9_.-]+)\s*(=|>=)?\s*(.*)", dep).groups()
        deps[name.lower()] = version
    return deps


def conda_name(pip_name: str, variant: str) -> str:
    return CONDA_NAME.get(pip_name, {}).get(variant, pip_name)


@pytest.mark.parametrize("variant", VARIANTS)
def test_env_uses_conda_forge_only(variant):
    env = yaml.safe_load((ROOT / f"envs/{variant}.yaml").read_text())
    assert env["channels"] == ["conda-forge", "nodefaults"]
    assert env["name"] == f"tridrop-{variant}"


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_dependency_is_pinned_to_a_major_minor_that_pyproject_allows(variant):
    deps = conda_deps(variant)
    for pip_name, req in requirements().items():
        name = conda_name(pip_name, variant)
        assert name in deps, f"envs/{variant}.yaml lacks {name} (pyproject: {req})"
        pin = deps[name]
        assert re.fullmatch(r"\d+\.\d+", pin), f"envs/{variant}.yaml: {name}={pin} not X.Y"
        # Every release of the pinned series must satisfy pyproject's range.
        for version in (f"{pin}.0", f"{pin}.999"):
            assert req.specifier.contains(version), (
                f"envs/{variant}.yaml pins {name}={pin}, pyproject asks {req}"
            )


@pytest.mark.parametrize("variant", VARIANTS)
def test_env_has_nothing_pyproject_does_not_name(variant):
    expected = {conda_name(n, variant) for n in requirements()} | CONDA_ONLY
    assert set(conda_deps(variant)) == expected


@pytest.mark.parametrize("variant", VARIANTS)
def test_python_pin_satisfies_requires_python(variant):
    python = conda_deps(variant)["python"]
    assert SpecifierSet(pyproject()["project"]["requires-python"]).contains(f"{python}.0")


def test_cpu_and_gpu_pin_the_same_versions():
    cpu, gpu = conda_deps("cpu"), conda_deps("gpu")
    assert cpu.pop("pytorch-cpu") == gpu.pop("pytorch-gpu")
    assert cpu == gpu


@pytest.mark.parametrize("variant", VARIANTS)
def test_post_deploy_installs_the_package_from_the_workflow_directory(variant):
    # Snakemake copies the env file to .snakemake/conda/, so a relative `pip: -e ..` would
    # point at the wrong folder; the post-deploy script runs from the workflow directory.
    script = (ROOT / f"envs/{variant}.post-deploy.sh").read_text()
    assert "pip install --no-deps --no-build-isolation -e .\n" in script


def test_every_rule_has_the_conda_env():
    rules_dir = ROOT / "workflow/rules"
    source = (ROOT / "src/tridrop/pipeline.py").read_text()  # Pipeline.conda names them
    env_paths = re.findall(r'"(\.\./\.\./envs/\w+\.yaml)"', source)
    assert sorted((rules_dir / p).resolve() for p in env_paths) == sorted(
        (ROOT / f"envs/{v}.yaml").resolve() for v in VARIANTS
    )
    for smk in sorted(rules_dir.glob("*.smk")):
        # Each rule's block runs up to the next top-level statement.
        for name, body in re.findall(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", smk.read_text(), re.M):
            if "shell:" not in body:
                continue  # a target rule (autoencoders, heads) runs nothing
            assert re.search(r"^\s+conda:\n\s+CONDA_ENV\n", body, re.M), f"{smk.name}: {name}"
