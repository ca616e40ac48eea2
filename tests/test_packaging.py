"""The light core: `pip install tridrop` needs only torch; the pipeline is an extra."""

import subprocess
import sys

import pytest

from conftest import ROOT

tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11+")
HEAVY = ("pandas", "snakemake", "matplotlib", "seaborn", "dvc", "sklearn", "scipy", "torchvision")


@pytest.mark.parametrize(
    "module", ["tridrop", "tridrop.dropout", "tridrop.extract", "tridrop.select", "tridrop.export"]
)
def test_core_imports_no_pipeline_dependency(module):
    code = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_core_needs_torch_only_and_the_pipeline_is_an_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert [d.split(">")[0] for d in project["dependencies"]] == ["torch"]
    assert {"snakemake", "pandas", "seaborn"} <= {
        d.split(">")[0].split("<")[0] for d in project["optional-dependencies"]["pipeline"]
    }
    assert "'.[pipeline,dev]'" in (ROOT / "Makefile").read_text()
