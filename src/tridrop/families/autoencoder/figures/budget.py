"""The budget figure: learning curves of the longest budget, and TD's price against budget."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from tridrop.figures import LABELS, PALETTE

# Fixed-width autoencoders in greys, lighter as they widen; TD and no TD in their colours.
GREYS = ("#222222", "#666666", "#9a9a9a", "#c4c4c4")


def _colour(model: str, fixed: list[str]) -> str:
    if model in fixed:
        return GREYS[min(fixed.index(model), len(GREYS) - 1)]
    return PALETTE.get(model, "#000000")


def plot(curves: pd.DataFrame, ratio: pd.DataFrame) -> Figure:
    """Left: training (dashed) and validation (solid) loss per epoch of every model of the
    longest budget, mean over seeds. Right: TD's test MSE over each reference against the
    budget, each seed a dot, the mean a line."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), width_ratios=[1.15, 1])
    longest = ratio.loc[ratio["epochs"].idxmax(), "experiment"]
    c = curves[curves["experiment"] == longest]
    models = list(c["model"].unique())
    fixed = sorted((m for m in models if m.startswith("fixed")), key=lambda m: int(m[5:]))
    for model in [m for m in ("td", "notd") if m in models] + fixed:
        g = c[c["model"] == model]
        colour = _colour(model, fixed)
        label = f"trained at width {model[5:]}" if model in fixed else LABELS.get(model, model)
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

    refs = list(dict.fromkeys(ratio.sort_values("width")["reference"]))
    notd_ref = [r for r in refs if not r.startswith("fixed")]
    fixed_refs = [r for r in refs if r.startswith("fixed")]
    for i, ref in enumerate(notd_ref + fixed_refs):
        g = ratio[ratio["reference"] == ref]
        colour = PALETTE["notd"] if ref in notd_ref else GREYS[min(i - len(notd_ref), 3)]
        mean = g.groupby("epochs")["ratio"].mean()
        right.plot(mean.index, mean.values, "-o", color=colour, label=f"TD / {ref}")
        right.scatter(g["epochs"], g["ratio"], s=12, color=colour, alpha=0.5)
    right.axhline(1, color="k", lw=0.8, ls=":")
    budgets = sorted(ratio["epochs"].unique())
    right.set_xscale("log")
    right.set_xticks(budgets, [str(b) for b in budgets])
    right.minorticks_off()
    right.set_xlabel("training budget (epochs; every model trains as long)")
    right.set_ylabel("TD's test MSE / the reference's (1: no price)")
    right.set_title("TD's price against training budget (dots: seeds)")
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig
