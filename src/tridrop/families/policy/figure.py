"""The policy figure: normalised return against width, every model with its interval."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from tridrop.figures import LABELS, PALETTE, log2_widths, ordered


def plot(curve: pd.DataFrame, experiment: str = "") -> plt.Figure:
    """Mean normalised return (0: random policy, 1: the expert) of each model at each width,
    with its bootstrap interval over seeds and episodes; a model swept at one width (no TD at
    full width) is a point."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for model in ordered(set(curve["model"])):
        c = curve[curve["model"] == model].sort_values("width")
        colour = PALETTE.get(model)
        label = LABELS.get(model, model)
        marker = "o" if len(c) == 1 else "."
        ax.plot(c["width"], c["mean"], marker=marker, color=colour, label=label)
        if len(c) > 1:
            ax.fill_between(c["width"], c["low"], c["high"], color=colour, alpha=0.2)
        else:
            err = [c["mean"] - c["low"], c["high"] - c["mean"]]
            ax.errorbar(c["width"], c["mean"], yerr=err, color=colour, fmt="none")
    ax.axhline(1.0, color="black", lw=0.8, ls="--", label="expert")
    ax.axhline(0.0, color="grey", lw=0.8, ls=":", label="random policy")
    log2_widths(ax, sorted(set(curve["width"])))
    ax.set_xlabel("hidden width (both layers)")
    ax.set_ylabel("normalised return")
    ax.set_title(f"{experiment}: closed-loop return by width" if experiment else "")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
