"""The HTML report of `snakemake --report` embeds config strings as data, never as markup.

Snakemake writes each result's params (a rule's ``spec``: JSON of the resolved settings) into a
``<script>`` block of the page without escaping ``</script>``: a data path holding
``</script><img onerror=...>`` used to end that block and run as part of the page.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run
from tridrop.files import html_safe

HOSTILE = '</pre><script>alert("xss-probe")</script><img src=x onerror=alert(1)>'


class Elements(HTMLParser):
    """Every element of a page as a browser's parser sees it, and each script's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[tuple[dict, str]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self.scripts.append((dict(attrs), ""))

    def handle_data(self, data: str) -> None:
        if self.scripts and self.lasttag == "script":
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)


def elements(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser


def test_the_parser_sees_an_injection():
    """The checks below catch the old page: the data ends the script block, an element follows."""
    page = f'<script id="results">\nvar results = {{"p": "{HOSTILE}"}};\n</script>'
    found = elements(page)
    assert ("img", {"src": "x", "onerror": "alert(1)"}) in found.tags
    cut = HOSTILE.split("</script>")[0]  # where a browser ends the block, too
    assert found.scripts == [({"id": "results"}, f'\nvar results = {{"p": "{cut}')]


def test_html_safe_json_keeps_the_data():
    data = {"path": HOSTILE, "a&b": ["<!--", "x > y"], "n": 1}
    text = html_safe(json.dumps(data))
    assert json.loads(text) == data and not set("<>&") & set(text)


@pytest.mark.slow
def test_a_config_string_reaches_the_report_as_text(workflow_copy: Path):
    cfg_path = workflow_copy / "config/config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    for section in ("autoencoders", "heads"):  # experiments sharing a dataset share its source
        for exp in cfg["presets"]["demo"][section].values():
            exp.update(source="auto", path=HOSTILE)  # no such folder: digits are bundled anyway
    cfg_path.write_text(yaml.safe_dump(cfg))
    # The one report output whose params hold the resolved config (paths included).
    run(["snakemake", "--cores", "1", "environment"], workflow_copy)
    recorded = json.loads((workflow_copy / "results/demo/environment.json").read_text())
    assert recorded["config"]["autoencoders"]["digits"]["path"] == HOSTILE  # the data, intact
    run(["snakemake", "--report", "report.html", "environment"], workflow_copy)

    found = elements((workflow_copy / "report.html").read_text())
    handlers = [a for _, a in found.tags if any(k.startswith("on") for k in a)]
    assert "img" not in [t for t, _ in found.tags] and not handlers
    carrying = [(a.get("id"), text) for a, text in found.scripts if "xss-probe" in text]
    assert [i for i, _ in carrying] == ["results"], [i for i, _ in carrying]
    # The block is still the whole JSON value, and the params carry the path as escapes.
    text = carrying[0][1].strip()
    results = json.loads(text.removeprefix("var results = ").removesuffix(";"))
    params = results["results/demo/environment.json"]["job_properties"]["params"]
    assert r"\u003c/script\u003e" in params and "<" not in params


# What the captions may print: values the config check confines to names and numbers (preset
# and experiment names, device choices, seeds and mask sizes as integers). docutils escapes
# text, but a free-form string (a path) could still carry reStructuredText markup (a `raw` or
# `include` directive) into the page; such a value needs escaping before it joins this list.
CAPTION_VALUES = {
    'snakemake.config["device"]',
    'snakemake.config["preset"]',
    'snakemake.config["presets"][snakemake.config["preset"]]["autoencoders"]'
    '[snakemake.wildcards.experiment]["seeds"]',
    'snakemake.config["presets"][snakemake.config["preset"]]["figures"]["mask_batch"]',
    'snakemake.config["presets"][snakemake.config["preset"]]["figures"]["mask_width"]',
    "snakemake.wildcards.experiment",
    "snakemake.wildcards.variant",
    "snakemake.wildcards.series",  # a series is named after an experiment (constrained alike)
}


def test_captions_print_only_checked_values():
    printed = {
        m.strip()
        for page in (ROOT / "workflow/report").glob("*.rst")
        for m in re.findall(r"{{(.*?)}}", page.read_text(), re.S)
    }
    assert printed <= CAPTION_VALUES, sorted(printed - CAPTION_VALUES)
