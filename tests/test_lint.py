"""Style and workflow checks the project promises: ruff, snakefmt, snakemake --lint."""

import pytest

from conftest import ROOT, run


@pytest.mark.parametrize(
    "cmd",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["snakefmt", "--check", "."],
        ["snakemake", "--lint"],
    ],
    ids=["ruff", "ruff-format", "snakefmt", "snakemake-lint"],
)
def test_clean(cmd):
    proc = run(cmd, ROOT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
