"""Metric against width for every model and baseline, with a band over seeds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from tridrop.figures import LABELS, PALETTE
from tridrop.registry import AUTOENCODER

# Baselines that are not one network cut to many widths get their own line style; the
# training-free controls (PCA, no TD's cuts) are dashed.
STYLES = {"fixed": (":", "s")}
CONTROL = ("--", None)


def plot(df: pd.DataFrame, metric: str = "mse", ylabel: str = "test MSE per pixel") -> Figure:
    """Mean over seeds (line) and min-max over seeds (band) of ``metric`` vs width.

    Models cut to every width are solid lines; ``fixed`` (an autoencoder trained at each width
    separately) is dotted with square markers; the training-free controls (``pca``, no TD's
    mean-fill, PCA-rotated and greedy-ordered cuts) are dashed.
    """
    sel = df[df["metric"] == metric]
    if sel.empty:
        raise ValueError(f"no rows for metric {metric!r}")
    present = set(sel["model"])
    models = [m for m in PALETTE if m in present] + sorted(present - set(PALETTE))
    many = len(models) > 7  # the legend goes beside the axes, where it hides no line
    fig, ax = plt.subplots(figsize=(8.6 if many else 6.4, 4.2))
    for model in models:
        g = sel[sel["model"] == model].groupby("width")["value"].agg(["mean", "min", "max"])
        control = AUTOENCODER.role(model) == "control"
        style, marker = STYLES.get(model, CONTROL if control else ("-", "o"))
        color = PALETTE.get(model)
        ax.plot(
            g.index,
            g["mean"],
            style,
            marker=marker,
            markersize=4,
            color=color,
            label=LABELS.get(model, model),
            zorder=3 if model == "td" else 2,  # TD on top of the relatives that match it
        )
        ax.fill_between(g.index, g["min"], g["max"], color=color, alpha=0.2, linewidth=0)
    seeds = sel[sel["model"] != "pca"].groupby("model")["seed"].nunique()
    ax.set_yscale("log")
    ax.set_xlabel("latent width (units kept)")
    ax.set_ylabel(ylabel + " (log scale)")
    ax.set_title(f"{sel['experiment'].iloc[0]}: reconstruction error vs width")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(
        title=f"line: mean, band: range over {seeds.max()} seeds",
        fontsize=8,
        title_fontsize=8,
        **({"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)} if many else {}),
    )
    fig.tight_layout()
    return fig
