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

from tridrop.claims import markdown
from tridrop.figures import LABELS

START = "<!-- results:start (written by `make readme`; do not edit by hand) -->"
END = "<!-- results:end -->"
# Figures drawn by one rule with a `kind` wildcard share its caption file.
SHARED_CAPTIONS = {"importance": "features", "dependence": "features"}


def caption(captions: Path, figure: Path, config: dict, preset: str) -> str:
    """The report caption of a figure, rendered as the Snakemake report renders it."""
    stem = figure.stem
    wildcards = {"preset": preset}
    for exp in sorted(_experiments(config, preset), key=len, reverse=True):
        if stem.startswith(exp + "_"):
            wildcards["experiment"], stem = exp, stem[len(exp) + 1 :]
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


def _experiments(config: dict, preset: str) -> list[str]:
    p = config["presets"][preset]
    return sorted(
        {
            name
            for section in p.values()
            if isinstance(section, dict)
            for name in section
            if isinstance(section[name], dict) and "seeds" in section[name]
        }
    )


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
        lines.append(f"| {LABELS.get(model, model)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def accuracy_table(table: pd.DataFrame) -> str:
    """Top-1 per model against width and the TD head's parameter share (the paper's table)."""
    td = table[table["model"] == "td"].set_index("width")
    top1 = table.pivot_table(index="width", columns="model", values="top1")
    models = [m for m in top1.columns if m != "td"]
    lines = [
        "| width | head params (TD) | % of head | TD top-1 | "
        + " | ".join(f"{LABELS.get(m, m)} top-1" for m in models)
        + " |",
        "|---|---|---|---|" + "---|" * len(models),
    ]
    for w in sorted(top1.index, reverse=True):
        if w not in td.index:
            continue
        cells = [f"{top1.at[w, m]:.3f}" if pd.notna(top1.at[w, m]) else "" for m in models]
        lines.append(
            f"| {w} | {int(td.at[w, 'head_params']):,} | {td.at[w, 'head_pct']:.1f} | "
            f"{td.at[w, 'top1']:.3f} | " + " | ".join(cells) + " |"
        )
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
        out += ["### Claims", "", markdown(pd.read_csv(claims)), ""]
    for (exp, metric), _ in summary.groupby(["experiment", "metric"]):
        out += [f"### {exp}: {metric} by width", "", width_table(summary, exp, metric), ""]
    for path in sorted((results / "tables").glob("*_accuracy_vs_params.csv")):
        name = path.name.removesuffix("_accuracy_vs_params.csv")
        out += [
            f"### {name}: top-1 against head parameters",
            "",
            accuracy_table(pd.read_csv(path)),
            "",
        ]
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
