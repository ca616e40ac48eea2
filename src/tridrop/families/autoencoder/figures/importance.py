"""Feature importance by unit index: the loss increase when one latent unit is removed."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from tridrop.figures import LABELS, PALETTE


def plot(df: pd.DataFrame) -> Figure:
    """One panel per model (TD first, then no TD, then the other variants), shared y axis.

    Bars: mean over seeds of the importance of each unit; whiskers: min-max over seeds.
    """
    present = set(df["model"])
    models = [m for m in PALETTE if m in present] + sorted(present - set(PALETTE))
    fig, axes = plt.subplots(
        1, len(models), figsize=(3.2 * len(models), 3.2), sharey=True, squeeze=False
    )
    for ax, model in zip(axes[0], models, strict=True):
        g = df[df["model"] == model].groupby("unit")["value"].agg(["mean", "min", "max"])
        err = [g["mean"] - g["min"], g["max"] - g["mean"]]
        ax.bar(
            g.index,
            g["mean"],
            yerr=err,
            color=PALETTE.get(model),
            capsize=1.5,
            width=0.8,
            error_kw={"linewidth": 0.7},
        )
        seeds = df.loc[df["model"] == model, "seed"].nunique()
        ax.set_title(f"{LABELS.get(model, model)} ({seeds} seeds)", fontsize=9)
        ax.set_xlabel("latent unit index")
        ax.grid(True, axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("test MSE increase when\nthe unit alone is removed")
    fig.suptitle(f"{df['experiment'].iloc[0]}: feature importance by unit index", fontsize=10)
    fig.tight_layout()
    return fig
