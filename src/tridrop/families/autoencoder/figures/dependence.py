"""The feature dependence matrix: how much unit i's contribution changes when j is removed."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tridrop.families.autoencoder.figures.importance import controls
from tridrop.figures import LABELS, ordered

COLUMNS = 4  # heat maps per row when every model is drawn


def plot(df: pd.DataFrame, every: bool = False) -> Figure:
    """Heat maps (mean over seeds) on one logarithmic colour scale: TD beside no TD (and no TD
    re-sorted or cut otherwise, ``notd_*``, where present); with ``every``, every model of the
    table in a grid of :data:`COLUMNS` columns.

    Row i, column j: ``Dep[i, j]`` as defined in :mod:`~tridrop.families.autoencoder.analysis`
    (the diagonal is blank). Mass below the diagonal means later units depend on earlier ones;
    each title gives that share of the off-diagonal mass (0.5: symmetric).
    """
    models = ordered(df["model"].unique()) if every else controls(df["model"].unique())
    mean = df.groupby(["model", "unit", "removed"])["value"].mean()
    width = int(df["unit"].max()) + 1
    mats = {}
    for model in models:
        m = np.full((width, width), np.nan)
        part = mean[model]
        m[part.index.get_level_values("unit"), part.index.get_level_values("removed")] = part
        mats[model] = m
    values = np.concatenate([m[np.isfinite(m)] for m in mats.values()])
    positive = values[values > 0]
    norm = LogNorm(vmin=max(positive.min(), positive.max() * 1e-4), vmax=positive.max())
    cols = min(COLUMNS, len(models)) if every else len(models)
    rows = math.ceil(len(models) / cols)
    side = 2.9 if every else 3.7
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(side * cols + 1.1, side * rows + 0.5),
        squeeze=False,
        layout="constrained",
    )
    for ax, model in zip(axes.flat, models, strict=False):
        image = ax.imshow(
            np.clip(mats[model], norm.vmin, None), cmap="magma", norm=norm, interpolation="nearest"
        )
        share = _lower_share(mats[model])
        title = f"{LABELS.get(model, model)}\nbelow the diagonal: {share:.0%}"
        ax.set_title(title, fontsize=8.5, fontweight="bold" if model == "td" else "normal")
        ax.set_xlabel("removed unit j", fontsize=8)
        ax.set_ylabel("unit i", fontsize=8)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    fig.get_layout_engine().set(h_pad=0.12)
    for ax in axes.flat[len(models) :]:
        ax.axis("off")
    label = "share of unit i's contribution\nthat changes when j is removed (log)"
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8 if rows == 1 else 0.5, label=label)
    what = "every model" if every else "TD against no TD"
    seeds = int(df.groupby("model")["seed"].nunique().max())
    fig.suptitle(
        f"{df['experiment'].iloc[0]}: feature dependence, {what} (mean over {seeds} seeds)",
        fontsize=11,
    )
    return fig


def _lower_share(m: np.ndarray) -> float:
    """Share of the off-diagonal mass below the diagonal (as ``analysis.lower_share``)."""
    off = np.nan_to_num(m)
    np.fill_diagonal(off, 0.0)
    return float(np.tril(off, -1).sum() / off.sum())
