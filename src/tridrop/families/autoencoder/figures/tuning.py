"""The learning-rate figure: validation loss against rate per model, TD's price against rate."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from tridrop.families.autoencoder.figures.budget import price_panel, styles


def plot(choice: pd.DataFrame, ratio: pd.DataFrame) -> Figure:
    """Left: each model's validation loss after its last epoch against the learning rate (mean
    and std over seeds), its chosen rate ringed. Right: TD's test MSE over each reference when
    both train at the same rate, per rate (dots: seeds)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for model, (colour, label) in styles(choice["model"].unique()).items():
        g = choice[choice["model"] == model]
        left.errorbar(g["lr"], g["val_loss"], yerr=g["val_std"], fmt="-o", color=colour,
                      capsize=2, label=label)  # fmt: skip
        best = g[g["chosen"]]
        left.scatter(best["lr"], best["val_loss"], s=160, facecolors="none", edgecolors=colour)
    left.set(xscale="log", yscale="log", xlabel="Adam learning rate")
    left.set_ylabel("validation loss after the last epoch (TD: its objective)")
    left.set_title("Validation loss by learning rate (ringed: each model's chosen rate)")
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=8)
    price_panel(right, ratio, "lr")
    right.set_xlabel("Adam learning rate (TD and the reference alike)")
    right.set_title("TD's price at each learning rate (dots: seeds)")
    fig.tight_layout()
    return fig
