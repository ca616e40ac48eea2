"""The autoencoder family's part of the results pages: its gap reports, as Markdown."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from tridrop.families.autoencoder.gap import front_summary
from tridrop.figures import LABELS


def gap_table(table: pd.DataFrame) -> str:
    """The gap report as Markdown: ratios to no TD and to the fixed widths, costs, the front."""
    fixed = [c for c in table.columns if re.fullmatch(r"fixed_w\d+", c)]
    heads = [
        "full width / no TD",
        *(f"w={c[7:]} / fixed" for c in fixed),
        "geo. mean / fixed",
        "worst / fixed",
        "forward passes / no TD",
        "wall time / no TD",
        "Pareto",
    ]
    lines = ["| model | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]

    def cell(r, c):
        v, sd = r[c], r.get(f"{c}_std")
        if pd.isna(v):
            return "n/a"
        return f"{v:.3f}" if sd is None else f"{v:.3f} ± {sd:.2g}"

    for _, r in table.iterrows():
        cols = ["full", *fixed, "fixed_geomean", "fixed_worst", "passes", "time"]
        cells = [cell(r, c) for c in cols] + ["**yes**" if r["pareto"] else ""]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sections(results: Path, link: Callable[[Path], str]) -> list[str]:
    """The gap report of every experiment that has one (the full results page)."""
    out = []
    for path in sorted((results / "tables").glob("*_gap.csv")):
        table = pd.read_csv(path)
        name = path.name.removesuffix("_gap.csv")
        widths = ", ".join(c[7:] for c in table.columns if re.fullmatch(r"fixed_w\d+", c))
        out += [
            f"### {name}: the gap report",
            "",
            "Each model's test MSE over the unconstrained autoencoder's at full width and "
            "over the autoencoders trained at each fixed width, and its training cost over "
            "the unconstrained run's (mean ± std over seeds; definitions in "
            f"[gap.md]({link(Path('docs/gap.md'))})). The geometric mean and the worst width "
            f"cover every fixed width: {widths}.",
            "",
            gap_table(table),
            "",
            "On the Pareto front (full-width MSE against small-width MSE):",
            "",
            front_summary(table, LABELS),
            "",
        ]
    return out


def headline(results: Path, link: Callable[[Path], str]) -> list[str]:
    """The README's headline shows the gap reports too."""
    return sections(results, link)
