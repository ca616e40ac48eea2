"""The policy family's part of the results pages: the task-complexity tables."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from tridrop.figures import LABELS
from tridrop.tables import select_line


def _width(value: float) -> str:
    return "never" if math.isinf(value) else ("" if math.isnan(value) else f"{value:g}")


def complexity_markdown(table: pd.DataFrame) -> str:
    """Smallest width reaching each level per model, with its bootstrap interval."""
    levels = sorted(set(table["level"]))
    lines = [
        "| model | " + " | ".join(f"width for {lv:.0%} [95% interval]" for lv in levels) + " |",
        "|---|" + "---|" * len(levels),
    ]
    for model, rows in table.groupby("model", sort=False):
        cells = []
        for lv in levels:
            r = rows[rows["level"] == lv].iloc[0]
            cells.append(f"{_width(r['width'])} [{_width(r['low'])}, {_width(r['high'])}]")
        lines.append(f"| {LABELS.get(model, model)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def iqm_markdown(table: pd.DataFrame) -> str:
    """The IQM over every environment per model (rows) and width (columns), with intervals."""
    widths = sorted(set(table["width"]))
    lines = ["| model | " + " | ".join(f"w={w}" for w in widths) + " |"]
    lines.append("|---|" + "---|" * len(widths))
    for model, rows in table.groupby("model", sort=False):
        by = rows.set_index("width")
        cells = [
            f"{by.at[w, 'iqm']:.2f} [{by.at[w, 'low']:.2f}, {by.at[w, 'high']:.2f}]"
            if w in by.index
            else ""
            for w in widths
        ]
        lines.append(f"| {LABELS.get(model, model)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sections(results: Path, link: Callable[[Path], str]) -> list[str]:
    """The IQM over every environment, then each environment's task-complexity table (the
    full results page)."""
    out = []
    path = results / "tables" / "iqm_return_curve.csv"
    if path.is_file():
        table = pd.read_csv(path)
        out += [
            f"### Every environment: IQM of normalised return ([csv]({link(path)}))",
            "",
            f"Interquartile mean over {table['environments'].max()} environments' runs (one "
            "seed of one environment, averaged over its episodes; 0: random policy, 1: the "
            "expert), 95% stratified bootstrap intervals.",
            "",
            iqm_markdown(table),
            "",
        ]
    for path in sorted((results / "tables").glob("*_complexity.csv")):
        table = pd.read_csv(path)
        name = path.name.removesuffix("_complexity.csv")
        out += [
            f"### {name}: task complexity ([csv]({link(path)}))",
            "",
            "Smallest hidden width whose mean normalised return reaches each share of the "
            "no-TD student's full-width return.",
            "",
            complexity_markdown(table),
            "",
        ]
        chosen = path.with_name(f"{name}_select.csv")
        if chosen.is_file():
            out += [select_line(pd.read_csv(chosen), "evaluation episodes"), ""]
    return out


def headline(results: Path, link: Callable[[Path], str]) -> list[str]:
    """The README's headline shows only the claims for the policies (for now)."""
    return []
