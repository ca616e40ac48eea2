"""The README's "Results" section, written from a preset's results and the report captions.

Nothing in that section is typed by hand: tables come from the aggregated CSVs, figures are
linked from ``results/<preset>/figures``, captions are the Snakemake report's caption files.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pandas as pd

from tridrop.figures import LABELS

START = "<!-- results:start (written by `make readme`; do not edit by hand) -->"
END = "<!-- results:end -->"


def caption(captions: Path, figure: Path, config: dict, preset: str) -> str:
    """The report caption of a figure, rendered as the Snakemake report renders it."""
    stem = figure.stem
    wildcards = {"preset": preset}
    for exp in _experiments(config, preset):
        if stem.startswith(exp + "_"):
            wildcards["experiment"], stem = exp, stem[len(exp) + 1 :]
    if "_" in stem and not (captions / f"{stem}.rst").exists():
        stem, wildcards["variant"] = stem.rsplit("_", 1)
    path = captions / f"{stem}.rst"
    if not path.exists():
        return ""
    snakemake = SimpleNamespace(config=config, wildcards=SimpleNamespace(**wildcards))
    text = jinja2.Template(path.read_text()).render(snakemake=snakemake)
    return " ".join(text.split()).replace("``", "`")


def _experiments(config: dict, preset: str) -> list[str]:
    p = config["presets"][preset]
    return sorted({name for section in p.values() if isinstance(section, dict) for name in section
                   if isinstance(section[name], dict) and "seeds" in section[name]})  # fmt: skip


def width_table(summary: pd.DataFrame, experiment: str, metric: str) -> str:
    """Mean ± std over seeds at powers-of-two widths and full width, one row per model."""
    sel = summary[(summary["experiment"] == experiment) & (summary["metric"] == metric)]
    full = int(sel["width"].max())
    widths = sorted({w for w in sel["width"].unique() if w & (w - 1) == 0} | {full})
    lines = ["| model | " + " | ".join(f"w={w}" for w in widths) + " |",
             "|---|" + "---|" * len(widths)]  # fmt: skip
    for model, g in sel.groupby("model"):
        by = g.set_index("width")
        cells = [f"{by.at[w, 'mean']:.4g} ± {by.at[w, 'std']:.2g}" if w in by.index else ""
                 for w in widths]  # fmt: skip
        lines.append(f"| {LABELS.get(model, model)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def claims_table(claims: pd.DataFrame) -> str:
    lines = [
        "| experiment | claim | metric | value | threshold | held |",
        "|---|---|---|---|---|---|",
    ]
    for r in claims.itertuples():
        held = "yes" if str(r.held).lower() == "true" else "**no**"
        lines.append(f"| {r.experiment} | {r.claim} | {r.metric} | {r.value:.4g} | "
                     f"{r.threshold} | {held} |")  # fmt: skip
    return "\n".join(lines)


def section(results: Path, captions: Path, config: dict, preset: str, command: str) -> str:
    """Markdown for the results of ``preset`` found under ``results``."""
    summary = pd.read_csv(results / "tables" / "summary.csv")
    intro = (
        f"Produced by `{command}` with `config/config.yaml` as committed (preset `{preset}`); "
        f"the device and library versions of every run are in `{results}/runs/*/*/*/model.json`."
        " Tables: mean ± standard deviation over seeds."
    )
    out = [START, "", f"## Results ({preset} preset)", "", intro, ""]
    claims = results / "claims.csv"
    if claims.exists():
        out += ["### Claims", "", claims_table(pd.read_csv(claims)), ""]
    for (exp, metric), _ in summary.groupby(["experiment", "metric"]):
        out += [f"### {exp}: {metric} by width", "", width_table(summary, exp, metric), ""]
    for fig in sorted((results / "figures").glob("*.png")):
        text = caption(captions, fig, config, preset)
        out += [f"![{fig.stem}]({fig.as_posix()})", "", f"*{text}*" if text else "", ""]
    out.append(END)
    return "\n".join(line for line in out) + "\n"


def splice(readme: str, new_section: str) -> str:
    """Replace the marked results section of ``readme`` (which must have both markers)."""
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END) + "\n?", re.S)
    if not pattern.search(readme):
        raise ValueError("README has no results markers; add the start and end lines first")
    return pattern.sub(lambda _: new_section, readme, count=1)
