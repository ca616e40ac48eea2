"""The results pages, written from a preset's results and the report captions.

Two generated blocks, each between its own markers: the full results ``section`` (claims,
every table, every figure with its caption; in ``docs/results.md``) and a short ``headline``
(the claims and a few key figures; in the README). Nothing in them is typed by hand: tables
come from the aggregated CSVs, figures are linked from ``results/<preset>/figures``, captions
are the Snakemake report's caption files. The functions take and return text; the caller
chooses the files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pandas as pd

from tridrop.claims import VERDICT_NOTE, markdown
from tridrop.claims import headline as verdicts
from tridrop.config import filled, resolve
from tridrop.figures import LABELS
from tridrop.registry import FAMILIES

START = "<!-- results:start (written by `make readme`; do not edit by hand) -->"
END = "<!-- results:end -->"
HEADLINE_START = "<!-- headline:start (written by `make readme`; do not edit by hand) -->"
HEADLINE_END = "<!-- headline:end -->"
RESULTS_PAGE = Path("docs/results.md")
# Presets shown beside the default, each on docs/results-<preset>.md: the real-data presets,
# then the studies (the fashion preset's, issue 21; the policies', issue 23).
SHOWN = (
    "fashion",
    "mnist",
    "control",
    "fashion_gap",
    "fashion_seeds",
    "fashion_budget",
    "fashion_lr",
    "fashion_hard",
    "control_ppo",
    "control_mujoco",
)
# Each preset shown: its full results page and the command that produced its results.
RESULTS_PAGES = {
    "demo": RESULTS_PAGE,
    **{p: Path(f"docs/results-{p.replace('_', '-')}.md") for p in SHOWN},
}
COMMANDS = {"demo": "make run", **{p: f"make run PRESET={p}" for p in SHOWN}}
# The generated pages and the preset each shows: the README's headline is the real-data preset.
PAGES = {Path("README.md"): "fashion", **{page: p for p, page in RESULTS_PAGES.items()}}
# The headline's figures, by the end of their stem, every experiment's, in this order (the
# dependence matrices restate the importance order: they stay on the full page).
KEY_FIGURES = (
    "reconstructions",
    "mse_vs_width",
    "importance",
    "accuracy_vs_params",
    "gap",
)
# Figures drawn by one rule with a `kind` wildcard share its caption file.
SHARED_CAPTIONS = {"importance": "features", "dependence": "features"}


def caption(captions: Path, figure: Path, config: dict, preset: str) -> str:
    """The report caption of a figure, rendered as the Snakemake report renders it."""
    # As in a run of that preset (`--config preset=...`), whatever the file's default preset,
    # with its defaults filled in as the Snakefile does.
    settings = resolve({**config, "preset": preset})
    config = filled({**config, "preset": preset}, settings)
    stem = figure.stem
    wildcards = {"preset": preset}
    for exp in sorted(settings.all(), key=len, reverse=True):
        if stem.startswith(exp + "_"):
            wildcards["experiment"], stem = exp, stem[len(exp) + 1 :]
            wildcards["series"] = exp  # a series' figures are named after its first experiment
            break
    if stem in SHARED_CAPTIONS:  # one caption file for several figures of one rule
        stem, wildcards["kind"] = SHARED_CAPTIONS[stem], stem
    elif "_" in stem and not (captions / f"{stem}.rst").exists():
        stem, wildcards["variant"] = stem.rsplit("_", 1)
    path = captions / f"{stem}.rst"
    if not path.exists():
        return ""
    snakemake = SimpleNamespace(config=config, wildcards=SimpleNamespace(**wildcards))
    text = jinja2.Template(path.read_text()).render(snakemake=snakemake)
    return " ".join(text.split()).replace("``", "`")


def width_table(summary: pd.DataFrame, experiment: str, metric: str) -> str:
    """Mean ± std over seeds at powers-of-two widths and full width, one row per model."""
    sel = summary[(summary["experiment"] == experiment) & (summary["metric"] == metric)]
    full = int(sel["width"].max())
    widths = sorted({w for w in sel["width"].unique() if w & (w - 1) == 0} | {full})
    lines = [
        "| model | " + " | ".join(f"w={w}" for w in widths) + " |",
        "|---|" + "---|" * len(widths),
    ]
    for model, g in sel.groupby("model"):
        by = g.set_index("width")
        cells = [
            f"{by.at[w, 'mean']:.4g} ± {by.at[w, 'std']:.2g}" if w in by.index else ""
            for w in widths
        ]
        label = LABELS.get(model, model)
        if model == "notd" and list(by.index) == [full]:  # not cut: only its full width
            label = "no TD, full width"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _link(path: Path, base: Path) -> str:
    """``path`` (relative to the working folder) as a link from a page in folder ``base``."""
    return Path(os.path.relpath(path, base)).as_posix()


def _figure(fig: Path, captions: Path, config: dict, preset: str, base: Path) -> list[str]:
    text = caption(captions, fig, config, preset)
    return [f"![{fig.stem}]({_link(fig, base)})", "", f"*{text}*" if text else "", ""]


def _claims(results: Path) -> list[str]:
    path = results / "claims.csv"
    if not path.exists():
        return []
    claims = pd.read_csv(path)
    return ["### Claims", "", f"**{verdicts(claims)}** {VERDICT_NOTE}", "", markdown(claims), ""]


def section(
    results: Path, captions: Path, config: dict, preset: str, command: str, base: Path = Path(".")
) -> str:
    """Markdown for the results of ``preset`` found under ``results``, for a page in ``base``."""
    summary = pd.read_csv(results / "tables" / "summary.csv")
    intro = (
        f"Produced by `{command}` with `config/config.yaml` as committed (preset `{preset}`); "
        f"the device and library versions of every run are in `{results}/runs/*/*/*/model.json`."
        " Tables: mean ± standard deviation over seeds."
    )
    out = [START, "", f"## Results ({preset} preset)", "", intro, "", *_claims(results)]
    for (exp, metric), _ in summary.groupby(["experiment", "metric"]):
        out += [f"### {exp}: {metric} by width", "", width_table(summary, exp, metric), ""]
    for family in FAMILIES.values():  # each family's own tables (its wing's pages module)
        out += family.module("pages").sections(results, lambda p: _link(p, base))
    for fig in sorted((results / "figures").glob("*.png")):
        out += _figure(fig, captions, config, preset, base)
    out.append(END)
    return "\n".join(out) + "\n"


def headline(
    results: Path,
    captions: Path,
    config: dict,
    preset: str,
    command: str,
    base: Path = Path("."),
    page: Path = RESULTS_PAGE,
) -> str:
    """The claims and the key figures of ``preset``, linking to the full results ``page``."""
    link = f"[{page.as_posix()}]({_link(page, base)})"
    intro = (
        f"Produced by `{command}` with `config/config.yaml` as committed (preset `{preset}`). "
        f"Every table and figure, with the baselines' numbers: {link}."
    )
    out = [HEADLINE_START, "", intro, "", *_claims(results)]
    for family in FAMILIES.values():
        out += family.module("pages").headline(results, lambda p: _link(p, base))
    figures = sorted((results / "figures").glob("*.png"))
    for key in KEY_FIGURES:
        for fig in [f for f in figures if f.stem.endswith("_" + key)]:
            out += _figure(fig, captions, config, preset, base)
    out.append(HEADLINE_END)
    return "\n".join(out) + "\n"


def splice(text: str, new_section: str, start: str = START, end: str = END) -> str:
    """Replace the block of ``text`` between the ``start`` and ``end`` markers (both needed)."""
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end) + "\n?", re.S)
    if not pattern.search(text):
        raise ValueError(f"no results markers ({start!r} ... {end!r}); add both lines first")
    return pattern.sub(lambda _: new_section, text, count=1)


def rewrite(
    text: str,
    page: Path,
    results: Path,
    captions: Path,
    config: dict,
    preset: str,
    command: str,
    results_page: Path = RESULTS_PAGE,
) -> str:
    """``text`` of the Markdown file ``page`` with each generated block it holds made anew.

    Links are relative to ``page``'s folder; the headline links to ``results_page``.
    """
    args, base = (results, captions, config, preset, command), page.parent
    found = False
    if START in text:
        text, found = splice(text, section(*args, base=base)), True
    if HEADLINE_START in text:
        new = headline(*args, base=base, page=results_page)
        text, found = splice(text, new, HEADLINE_START, HEADLINE_END), True
    if not found:
        raise ValueError(f"{page} has no results or headline markers; add them first")
    return text


def update(page: Path, config: dict, captions: Path, results_root: Path = Path("results")) -> str:
    """The text of generated ``page`` (a key of :data:`PAGES`) made anew from its preset."""
    preset = PAGES[page]
    return rewrite(
        page.read_text(),
        page,
        results_root / preset,
        captions,
        config,
        preset,
        COMMANDS[preset],
        RESULTS_PAGES[preset],
    )
