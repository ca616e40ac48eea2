"""The classifier-head family's part of the results pages: accuracy against parameters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from tridrop.families.head.grid import tied_on_front
from tridrop.families.head.paired import summary
from tridrop.families.head.tables import PROBE
from tridrop.figures import LABELS
from tridrop.gap import gap_section
from tridrop.tables import select_line


def accuracy_table(table: pd.DataFrame) -> str:
    """Top-1 per model against width and the TD head's parameter share (the paper's table)."""
    td = table[table["model"] == "td"].set_index("width")
    probe = table[table["model"] == PROBE]
    table = table[table["model"] != PROBE]
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
    for _, p in probe.iterrows():  # no hidden layer: no width, one line below
        lines += [
            "",
            f"{LABELS[PROBE]}, the control with the fewest parameters: top-1 "
            f"{p['top1']:.3f} ± {p['top1_std']:.3f} over {int(p['seeds'])} seeds with "
            f"{int(p['head_params']):,} parameters ({p['head_pct']:.1f}% of the head).",
        ]
    return "\n".join(lines)


def side_by_side(tables: dict[str, pd.DataFrame]) -> str:
    """Top-1 of each model in several experiments (e.g. backbones trained at other seeds) at
    the widths they all trained heads at, and full width: how much of a result is the
    backbone's."""
    full = min(int(t["width"].max()) for t in tables.values())
    fixed = [set(t.loc[t["model"] == "fixed", "width"]) for t in tables.values()]
    widths = sorted(set.intersection(*fixed)) + [full]
    models = [m for m in SIDE_BY_SIDE if all(m in set(t["model"]) for t in tables.values())]
    lines = [
        "| model | experiment | " + " | ".join(f"w={w}" for w in widths) + " |",
        "|---|---|" + "---|" * len(widths),
    ]
    for m in models:
        for name, t in tables.items():
            top1 = t[t["model"] == m].set_index("width")["top1"]
            cells = [f"{top1[w]:.3f}" if w in top1.index else "" for w in widths]
            lines.append(f"| {LABELS.get(m, m)} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# The models the side-by-side table compares, TD first.
SIDE_BY_SIDE = ("td", "td_scratch", "fixed", "notd", "svd", "svd_ft", "ranked", "ranked_ft")


def sections(results: Path, link: Callable[[Path], str]) -> list[str]:
    """Each head's top-1 against its parameters (the full results page)."""
    out = []
    paths = sorted((results / "tables").glob("*_accuracy_vs_params.csv"))
    if len(paths) > 1:
        tables = {p.name.removesuffix("_accuracy_vs_params.csv"): pd.read_csv(p) for p in paths}
        out += [
            "### The heads side by side",
            "",
            "Top-1 (mean over seeds) of each model in every head experiment, at the widths "
            "all of them trained heads at and at full width.",
            "",
            side_by_side(tables),
            "",
        ]
    for path in paths:
        name = path.name.removesuffix("_accuracy_vs_params.csv")
        out += [
            f"### {name}: top-1 against head parameters",
            "",
            accuracy_table(pd.read_csv(path)),
            "",
        ]
        grid = path.with_name(f"{name}_grid.csv")
        if grid.exists():
            out += [grid_line(pd.read_csv(grid)), ""]
        chosen = path.with_name(f"{name}_select.csv")
        if chosen.exists():
            out += [select_line(pd.read_csv(chosen)), ""]
        gap = path.with_name(f"{name}_gap.csv")
        if gap.exists():
            out += gap_section(
                name,
                pd.read_csv(gap),
                "Each head's test top-1 error (1 - top-1) over the no-TD head's at full width "
                "and over the heads trained at each fixed width",
                link,
                "top-1 error",
                "head",
            )
        paired = path.with_name(f"{name}_paired.csv")
        if paired.exists():
            out += [
                f"#### {name}: TD against each control, image by image",
                "",
                paired_table(pd.read_csv(paired)),
                "",
            ]
    return out


def paired_table(rows: pd.DataFrame) -> str:
    """TD's top-1 minus each control's per width (mean over seeds) with the largest McNemar
    p-value over seeds: a difference stands where every seed's test rejects."""
    s = summary(rows)
    controls = list(dict.fromkeys(s["control"]))
    cell = {(r.control, r.width): f"{r.diff:+.3f} ({_p(r.p)})" for r in s.itertuples()}
    images = int(rows["images"].iloc[0])
    lines = [
        f"Top-1 of TD minus the control's on the same {images:,} test images (mean over "
        "seeds; in brackets the largest exact McNemar p-value over seeds, TD and each trained "
        "control paired by seed).",
        "",
        "| width | " + " | ".join(LABELS.get(c, c) for c in controls) + " |",
        "|---|" + "---|" * len(controls),
    ]
    for w in sorted(set(s["width"]), reverse=True):
        lines.append(f"| {w} | " + " | ".join(cell.get((c, w), "") for c in controls) + " |")
    return "\n".join(lines)


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def grid_line(grid: pd.DataFrame) -> str:
    """What the (w1, w2) grid says of the tied cut, in one sentence."""
    on, n, gain = tied_on_front(grid)
    return (
        f"Widths per layer (the {LABELS.get(grid['model'].iloc[0], grid['model'].iloc[0])} "
        f"heads' two hidden layers cut independently to every pair of {n} widths): the tied "
        f"cut is on the Pareto front of parameters against top-1 at {on} of {n} widths; the "
        f"front gains at most {gain:.3f} top-1 over a tied cut with at least its parameters."
    )


def headline(results: Path, link: Callable[[Path], str]) -> list[str]:
    """The README's headline shows the claims and figures only for the heads."""
    return []
