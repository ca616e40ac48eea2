"""The generated pages (README headline, docs/results.md, docs/reliability.md) are up to date
with the committed results, and every relative link in the README and docs/ resolves."""

import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run
from tridrop.readme import (
    END,
    HEADLINE_END,
    HEADLINE_START,
    PAGES,
    RESULTS_PAGES,
    START,
    headline,
    rewrite,
    section,
    splice,
    update,
)

MARKDOWN = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the pages link figures by paths relative to the repository


def _config() -> dict:
    return yaml.safe_load((ROOT / "config/config.yaml").read_text())


@pytest.mark.parametrize("page", list(PAGES), ids=str)
def test_results_are_up_to_date(page):
    assert update(page, _config(), Path("workflow/report")) == page.read_text(), (
        f"{page}'s results are stale: run `make readme`"
    )


def test_readme_has_the_headline_and_docs_the_full_sections():
    readme = (ROOT / "README.md").read_text()
    assert HEADLINE_START in readme and START not in readme
    assert "results/fashion/figures/" in readme and "results/demo/figures/digits_" not in readme
    for page in RESULTS_PAGES.values():
        full = (ROOT / page).read_text()
        assert START in full and HEADLINE_START not in full


def test_section_names_every_figure_with_its_caption():
    config = _config()
    args = (Path("results/demo"), Path("workflow/report"), config, "demo", "make run")
    text = section(*args, base=Path("docs"))
    for fig in (ROOT / "results/demo/figures").glob("*.png"):
        assert f"(../results/demo/figures/{fig.name})" in text
    assert "batch of 16 samples on a layer of 16" in text  # the mask caption, rendered
    assert "### digits_head: top5 by width" in text and "top-1 against head parameters" in text


def test_headline_has_the_claims_and_key_figures():
    config = _config()
    args = (Path("results/demo"), Path("workflow/report"), config, "demo", "make run")
    text = headline(*args)
    assert text.startswith(HEADLINE_START) and text.rstrip().endswith(HEADLINE_END)
    assert "### Claims" in text and "[docs/results.md](docs/results.md)" in text
    figures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert figures == [
        f"results/demo/figures/digits_{key}.png"
        for key in ("reconstructions", "mse_vs_width", "importance")
    ] + [
        "results/demo/figures/digits_head_accuracy_vs_params.png",
        "results/demo/figures/digits_gap.png",
    ]
    assert "by width" not in text  # the width tables stay on the full page
    assert "### digits: the gap report" in text and "On the Pareto front" in text


def test_splice_needs_markers():
    assert splice(f"a\n{START}\nold\n{END}\nb\n", f"{START}\nnew\n{END}\n") == (
        f"a\n{START}\nnew\n{END}\nb\n"
    )
    with pytest.raises(ValueError, match="no results markers"):
        splice("no markers here", "x")
    with pytest.raises(ValueError, match="no results or headline markers"):
        rewrite("no markers", Path("x.md"), Path("results/demo"), Path("."), {}, "demo", "x")


def test_reliability_table_is_up_to_date():
    import failures

    page = failures.PAGE.read_text()
    rows = failures.cases()
    assert len(rows) >= 25
    assert failures.splice(page, failures.render(rows)) == page, "run `make readme`"


def _links(text: str) -> list[str]:
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # no links in code blocks
    text = re.sub(r"`[^`\n]*`", "", text)  # nor in inline code
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page):
    missing = []
    for link in _links(page.read_text()):
        if re.match(r"[a-z]+:", link) or link.startswith("#"):
            continue  # web addresses, mail, anchors in the same page
        target = (page.parent / link.split("#")[0]).resolve()
        if not target.exists():
            missing.append(link)
    assert not missing, f"{page.name}: broken links {missing}"


def test_link_finder_sees_links_and_skips_code():
    text = "[a](docs/a.md) ![f](x.png)\n```\n[b](no.md)\n```\n`[c](no.md)`\n"
    assert _links(text) == ["docs/a.md", "x.png"]


def test_the_rule_graph_in_pipeline_md_is_the_workflows():
    """docs/pipeline.md's diagram is `snakemake --rulegraph` of the default preset."""
    from tridrop.rulegraph import END, START, mermaid

    dot = run(["snakemake", "--rulegraph", "--quiet", "all"], ROOT).stdout
    page = (ROOT / "docs/pipeline.md").read_text()
    block = page.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == mermaid(dot), "docs/pipeline.md's rule graph is stale: run `make readme`"


def test_a_model_swept_at_full_width_only_is_not_called_truncated():
    import pandas as pd

    from tridrop.readme import width_table

    rows = [("e", m, w, "return", 1.0, 0.0) for m, ws in (("td", (1, 2, 4)), ("notd", (4,)))
            for w in ws]  # fmt: skip
    summary = pd.DataFrame(rows, columns=["experiment", "model", "width", "metric", "mean", "std"])
    text = width_table(summary, "e", "return")
    assert "| no TD, full width |  |  | 1 ± 0 |" in text and "truncated" not in text
    text = width_table(summary.replace({"notd": "td", "td": "notd"}), "e", "return")
    assert "| no TD, truncated | 1 ± 0 | 1 ± 0 | 1 ± 0 |" in text
