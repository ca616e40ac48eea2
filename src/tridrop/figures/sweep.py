"""Metric against width for every model, with a band over seeds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from tridrop.figures import LABELS, PALETTE


def plot(df: pd.DataFrame, metric: str = "mse", ylabel: str = "test MSE per pixel") -> Figure:
    """Mean over seeds (line) and min-max over seeds (band) of ``metric`` vs width."""
    sel = df[df["metric"] == metric].copy()
    sel["label"] = sel["model"].map(lambda m: LABELS.get(m, m))
    models = [m for m in PALETTE if m in set(sel["model"])] + sorted(
        set(sel["model"]) - set(PALETTE)
    )
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.lineplot(
        data=sel, x="width", y="value", hue="label", errorbar=("pi", 100), marker="o",
        markersize=4, ax=ax, hue_order=[LABELS.get(m, m) for m in models],
        palette={LABELS.get(m, m): PALETTE.get(m) for m in models},
    )  # fmt: skip
    seeds = sel.groupby("model")["seed"].nunique()
    ax.set_yscale("log")
    ax.set_xlabel("latent width (units kept)")
    ax.set_ylabel(ylabel + " (log scale)")
    ax.set_title(f"{sel['experiment'].iloc[0]}: reconstruction error vs width")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title=f"line: mean, band: range over {seeds.max()} seeds")
    fig.tight_layout()
    return fig
