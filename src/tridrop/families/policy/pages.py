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


def sections(results: Path, link: Callable[[Path], str]) -> list[str]:
    """Each environment's task-complexity table (the full results page)."""
    out = []
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
