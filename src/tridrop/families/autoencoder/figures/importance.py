"""Feature importance by unit index: the loss increase when one latent unit is removed."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tridrop.figures import LABELS, PALETTE, ordered

TD = "td"


def controls(models) -> list[str]:
    """TD and what it is set against: no TD, and no TD re-sorted or cut otherwise (``notd_*``)."""
    return [m for m in ordered(models) if m == TD or m.startswith("notd")]


def plot(df: pd.DataFrame) -> Figure:
    """Left: TD beside no TD (and ``notd_sorted``, no TD's units sorted by importance, where
    present): mean over seeds (line) and range over seeds (band). Right, when the experiment
    has other variants: the mean of each, TD drawn on top. Logarithmic y (the tail of small
    importances is what TD orders); a mean at or below zero is drawn at the floor as a
    triangle pointing down.
    """
    models = ordered(df["model"].unique())
    left = controls(models)
    others = [m for m in models if m not in left]
    mean = df.groupby(["model", "unit"])["value"].mean()
    positive = mean[mean > 0]
    floor = max(positive.min(), positive.max() * 1e-5) / 1.5 if len(positive) else 1e-6
    panels = 2 if others else 1
    fig, axes = plt.subplots(
        1, panels, figsize=(6.2 * panels, 4.6), sharey=True, squeeze=False, layout="constrained"
    )
    for model in left:
        _line(axes[0, 0], df[df["model"] == model], model, floor, band=True)
    axes[0, 0].set_title("TD against the unconstrained autoencoder (no TD)", fontsize=10)
    if others:
        for model in [*others, TD] if TD in models else others:
            _line(axes[0, 1], df[df["model"] == model], model, floor, band=False)
        axes[0, 1].set_title("relatives of TD (mean over seeds)", fontsize=10)
    seeds = int(df.groupby("model")["seed"].nunique().max())
    for ax in axes[0]:
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor / 1.3)
        ax.set_xlabel("latent unit index")
        ax.grid(True, which="major", alpha=0.3)
    if any(line.get_marker() == "v" for ax in axes[0] for line in ax.get_lines()):
        axes[0, 0].plot([], [], "v", color="0.4", markersize=4, label="mean at or below zero")
    axes[0, 0].legend(
        fontsize=7.5,
        loc="upper right",
        title=f"line: mean over {seeds} seeds, band: range" if seeds > 1 else None,
        title_fontsize=7.5,
    )
    if others:
        axes[0, 1].legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    axes[0, 0].set_ylabel("test MSE increase when the unit alone\nis removed (log scale)")
    fig.suptitle(f"{df['experiment'].iloc[0]}: feature importance by unit index", fontsize=11)
    return fig


def _line(ax: Axes, rows: pd.DataFrame, model: str, floor: float, band: bool) -> None:
    g = rows.groupby("unit")["value"].agg(["mean", "min", "max"])
    color = PALETTE.get(model)
    td = model == TD
    style = {
        "linewidth": 2.2 if td else 1.3,
        "zorder": 6 if td else 4,
        "linestyle": "-." if model.startswith("notd_") else "-",
    }
    marker = {"marker": "o", "markersize": 3} if len(g) <= 32 else {}
    y = g["mean"].clip(lower=floor)
    ax.plot(g.index, y, color=color, label=LABELS.get(model, model), **marker, **style)
    low = g.index[g["mean"] <= floor]
    if len(low):
        ax.plot(low, np.full(len(low), floor), "v", color=color, markersize=4, zorder=7)
    if band and rows["seed"].nunique() > 1:
        lo, hi = g["min"].clip(lower=floor), g["max"].clip(lower=floor)
        ax.fill_between(g.index, lo, hi, color=color, alpha=0.18, linewidth=0, zorder=2)
