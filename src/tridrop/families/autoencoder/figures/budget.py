"""The budget figure: learning curves of the longest budget, and TD's price against budget."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tridrop.figures import LABELS, PALETTE

# Fixed-width autoencoders in greys, darker the narrower; TD and no TD in their colours.
GREYS = ("#222222", "#666666", "#9a9a9a", "#c4c4c4")


def styles(models) -> dict[str, tuple[str, str]]:
    """(colour, label) of each model of a series, in drawing order: TD, no TD, then the
    fixed-width autoencoders (``fixed<w>``) from the narrowest."""
    fixed = sorted((m for m in models if m.startswith("fixed")), key=lambda m: int(m[5:]))
    # No TD here is the whole network (its curves, its rate), not a truncation of it.
    names = {"td": LABELS["td"], "notd": "no TD (unconstrained)"}
    out = {m: (PALETTE[m], names[m]) for m in ("td", "notd") if m in set(models)}
    for i, m in enumerate(fixed):
        out[m] = (GREYS[min(i, len(GREYS) - 1)], f"trained at width {m[5:]}")
    return out


def price_panel(ax: Axes, ratio: pd.DataFrame, column: str) -> None:
    """TD's test MSE over each reference against ``column`` (a series' setting): the mean over
    seeds a line, each seed a dot; no TD in its colour, the fixed widths in greys."""
    refs = list(dict.fromkeys(ratio.sort_values("width")["reference"]))
    fixed = [r for r in refs if r.startswith("fixed")]
    for ref in [r for r in refs if r not in fixed] + fixed:
        g = ratio[ratio["reference"] == ref]
        colour = GREYS[min(fixed.index(ref), 3)] if ref in fixed else PALETTE["notd"]
        mean = g.groupby(column)["ratio"].mean()
        ax.plot(mean.index, mean.values, "-o", color=colour, label=f"TD / {ref}")
        ax.scatter(g[column], g["ratio"], s=12, color=colour, alpha=0.5)
    ax.axhline(1, color="k", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_ylabel("TD's test MSE / the reference's (1: no price)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot(curves: pd.DataFrame, ratio: pd.DataFrame) -> Figure:
    """Left: training (dashed) and validation (solid) loss per epoch of every model of the
    longest budget, mean over seeds. Right: TD's test MSE over each reference against the
    budget, each seed a dot, the mean a line."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), width_ratios=[1.15, 1])
    longest = ratio.loc[ratio["epochs"].idxmax(), "experiment"]
    c = curves[curves["experiment"] == longest]
    for model, (colour, label) in styles(c["model"].unique()).items():
        g = c[c["model"] == model]
        for split, style in (("train", "--"), ("val", "-")):
            s = g[g["split"] == split].groupby("epoch")["loss"].mean()
            if not s.empty:
                left.plot(s.index, s.values, style, color=colour, lw=1.6 if split == "val" else 1,
                          label=label if split == "val" else None)  # fmt: skip
    left.set_yscale("log")
    left.set_xlabel("epoch")
    left.set_ylabel("loss (MSE; TD: its objective, MSE at a width drawn per image)")
    left.set_title(f"{longest}: learning curves (solid: validation, dashed: training)")
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=8)
    price_panel(right, ratio, "epochs")
    budgets = sorted(ratio["epochs"].unique())
    right.set_xticks(budgets, [str(b) for b in budgets])
    right.minorticks_off()
    right.set_xlabel("training budget (epochs; every model trains as long)")
    right.set_title("TD's price against training budget (dots: seeds)")
    fig.tight_layout()
    return fig
