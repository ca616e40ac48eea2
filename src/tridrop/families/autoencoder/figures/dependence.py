"""The feature dependence matrix: how much unit i's contribution changes when j is removed."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from tridrop.figures import LABELS, PALETTE


def plot(df: pd.DataFrame) -> Figure:
    """One heat map per model (mean over seeds) on a shared logarithmic colour scale.

    Row i, column j: ``Dep[i, j]`` as defined in :mod:`~tridrop.families.autoencoder.analysis`
    (the diagonal is blank). Mass below the diagonal means later units depend on earlier ones.
    """
    present = set(df["model"])
    models = [m for m in PALETTE if m in present] + sorted(present - set(PALETTE))
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
    fig, axes = plt.subplots(
        1, len(models), figsize=(3.0 * len(models) + 1.0, 3.3), squeeze=False, layout="constrained"
    )
    for ax, model in zip(axes[0], models, strict=True):
        image = ax.imshow(
            np.clip(mats[model], norm.vmin, None), cmap="magma", norm=norm, interpolation="nearest"
        )
        ax.set_title(LABELS.get(model, model), fontsize=9)
        ax.set_xlabel("removed unit j")
    axes[0, 0].set_ylabel("unit i")
    label = "share of unit i's contribution\nthat changes when j is removed"
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.85, label=label)
    fig.suptitle(f"{df['experiment'].iloc[0]}: feature dependence (mean over seeds)", fontsize=10)
    return fig
