"""Accuracy against head parameters: the TD head cut to each width beside its baselines."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from tridrop.figures import LABELS, PALETTE


def plot(table: pd.DataFrame) -> Figure:
    """Top-1 and top-5 (mean, error bar: std over seeds) vs the head's parameter count.

    ``table``: the accuracy-vs-parameters table (``tridrop head-table``); the reference head
    (unconstrained network) is one point at full width.
    """
    models = [m for m in PALETTE if m in set(table["model"])]
    models += sorted(set(table["model"]) - set(models))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for ax, metric in zip(axes, ("top1", "top5"), strict=True):
        for m in models:
            t = table[table["model"] == m].sort_values("head_params")
            style = (
                {"marker": "*", "markersize": 12, "linestyle": "none"}
                if len(t) == 1
                else {"marker": "o", "markersize": 4}
            )
            ax.errorbar(
                t["head_params"],
                t[metric],
                yerr=t[f"{metric}_std"],
                capsize=2,
                color=PALETTE.get(m),
                label=LABELS.get(m, m),
                **style,
            )
        ax.set_xscale("log")
        ax.set_xlabel("head parameters (log scale)")
        ax.set_ylabel(f"validation {metric.replace('top', 'top-')} accuracy")
        ax.grid(True, which="both", alpha=0.3)
        full = table["head_params"].max()
        for pct in (10, 25):
            ax.axvline(full * pct / 100, color="grey", linestyle=":", linewidth=1)
            ax.annotate(
                f"{pct}% of head",
                (full * pct / 100, 0.02),
                rotation=90,
                fontsize=7,
                xycoords=("data", "axes fraction"),
                color="grey",
                ha="right",
            )
    seeds = int(table["seeds"].max())
    handles, labels = axes[0].get_legend_handles_labels()
    fig.suptitle(
        f"{table['experiment'].iloc[0]}: accuracy vs head parameters "
        "(each head cut to a width, no retraining)"
    )
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=3,
        fontsize=8,
        frameon=False,
        title=f"error bars: std over up to {seeds} seeds",
        title_fontsize=8,
    )
    return fig
