"""The README's results section is generated, and up to date with the committed results."""

from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from tridrop.readme import END, START, section, splice


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the README links figures by paths relative to the repository


def test_readme_results_are_up_to_date():
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    preset = config["preset"]
    new = section(Path("results", preset), Path("workflow/report"), config, preset, "make run")
    readme = (ROOT / "README.md").read_text()
    assert splice(readme, new) == readme, "README results are stale: run `make readme`"


def test_section_names_every_figure_with_its_caption(tmp_path):
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    text = section(Path("results/demo"), Path("workflow/report"), config, "demo", "make run")
    for fig in (ROOT / "results/demo/figures").glob("*.png"):
        assert f"(results/demo/figures/{fig.name})" in text
    assert "batch of 16 samples on a layer of 16" in text  # the mask caption, rendered


def test_splice_needs_markers():
    assert splice(f"a\n{START}\nold\n{END}\nb\n", f"{START}\nnew\n{END}\n") == (
        f"a\n{START}\nnew\n{END}\nb\n"
    )
    with pytest.raises(ValueError, match="no results markers"):
        splice("no markers here", "x")


def test_reliability_table_is_up_to_date():
    import failures

    readme = (ROOT / "README.md").read_text()
    rows = failures.cases()
    assert len(rows) >= 25
    assert failures.splice(readme, failures.render(rows)) == readme, "run `make readme`"
