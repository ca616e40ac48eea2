"""The learning-rate figure: validation loss against rate per model, TD's price against rate."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from tridrop.families.autoencoder.figures.budget import GREYS, _colour
from tridrop.figures import LABELS, PALETTE


def plot(choice: pd.DataFrame, ratio: pd.DataFrame) -> Figure:
    """Left: each model's validation loss after its last epoch against the learning rate (mean
    and std over seeds), its chosen rate ringed. Right: TD's test MSE over each reference when
    both train at the same rate, per rate (dots: seeds)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    models = list(choice["model"].unique())
    fixed = sorted((m for m in models if m.startswith("fixed")), key=lambda m: int(m[5:]))
    for model in [m for m in ("td", "notd") if m in models] + fixed:
        g = choice[choice["model"] == model]
        colour = _colour(model, fixed)
        label = f"trained at width {model[5:]}" if model in fixed else LABELS.get(model, model)
        left.errorbar(g["lr"], g["val_loss"], yerr=g["val_std"], fmt="-o", color=colour,
                      capsize=2, label=label)  # fmt: skip
        best = g[g["chosen"]]
        left.scatter(best["lr"], best["val_loss"], s=160, facecolors="none", edgecolors=colour)
    left.set(xscale="log", yscale="log", xlabel="Adam learning rate")
    left.set_ylabel("validation loss after the last epoch (TD: its objective)")
    left.set_title("Validation loss by learning rate (ringed: each model's chosen rate)")
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=8)
    refs = list(dict.fromkeys(ratio.sort_values("width")["reference"]))
    notd_ref = [r for r in refs if not r.startswith("fixed")]
    for i, ref in enumerate(notd_ref + [r for r in refs if r.startswith("fixed")]):
        g = ratio[ratio["reference"] == ref]
        colour = PALETTE["notd"] if ref in notd_ref else GREYS[min(i - len(notd_ref), 3)]
        mean = g.groupby("lr")["ratio"].mean()
        right.plot(mean.index, mean.values, "-o", color=colour, label=f"TD / {ref}")
        right.scatter(g["lr"], g["ratio"], s=12, color=colour, alpha=0.5)
    right.axhline(1, color="k", lw=0.8, ls=":")
    right.set(xscale="log", xlabel="Adam learning rate (TD and the reference alike)")
    right.set_ylabel("TD's test MSE / the reference's (1: no price)")
    right.set_title("TD's price at each learning rate (dots: seeds)")
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig
