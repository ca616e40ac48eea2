"""The gap report's figure: full-width against small-width cost, and MSE against width."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from tridrop.figures import LABELS, PALETTE


def plot(
    table: pd.DataFrame, sweeps: pd.DataFrame, goal: tuple[float, float] = (1.05, 1.1)
) -> Figure:
    """Left: each model at (full-width MSE / no TD, geometric-mean MSE / fixed-width AEs), error
    bars the std over seeds, the Pareto front as a line and the ``goal`` box shaded. Right: each
    model's mean MSE over PCA's at the same width (below 1: better than PCA), fixed-width
    autoencoders as squares.
    """
    t = table.dropna(subset=["full", "fixed_geomean"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    for r in t.itertuples():
        color = PALETTE.get(r.model)
        marker = "*" if r.pareto else "o"
        left.errorbar(r.full, r.fixed_geomean, xerr=r.full_std, yerr=r.fixed_geomean_std,
                      fmt=marker, color=color, markersize=11 if r.pareto else 6, capsize=2,
                      label=f"{r.model}: {LABELS.get(r.model, r.model)}")  # fmt: skip
        left.annotate(r.model, (r.full, r.fixed_geomean), textcoords="offset points",
                      xytext=(5, 4), fontsize=7)  # fmt: skip
    front = t[t["pareto"]].sort_values("full")
    left.plot(front["full"], front["fixed_geomean"], "-", color="k", alpha=0.4, linewidth=1,
              label="Pareto front", zorder=0)  # fmt: skip
    left.fill_between([min(0.98, t["full"].min()), goal[0]], 0, goal[1], color="#009E73",
                      alpha=0.1, label=f"goal: <= {goal[0]}x and <= {goal[1]}x")  # fmt: skip
    left.set_yscale("log")
    left.set_ylim(min(0.95, t["fixed_geomean"].min() * 0.95), t["fixed_geomean"].max() * 1.2)
    left.set_xlabel("full-width cost: MSE at full width / no TD's")
    left.set_ylabel("small-width cost: MSE / fixed-width AEs' (geometric mean, log)")
    left.set_title("the gap: lower left is better")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=6, loc="upper right")

    mse = sweeps[sweeps["metric"] == "mse"]
    mean = mse.groupby(["model", "width"])["value"].mean()
    models = set(mean.index.get_level_values("model"))
    base = mean["pca"] if "pca" in models else None
    for model in [m for m in PALETTE if m in models] + sorted(models - set(PALETTE)):
        if model == "pca":
            continue
        y = mean[model] / base.reindex(mean[model].index) if base is not None else mean[model]
        style = {"linestyle": ":", "marker": "s"} if model == "fixed" else {"marker": "."}
        right.plot(y.index, y.to_numpy(), color=PALETTE.get(model), label=model, **style)
    if base is not None:
        right.axhline(1.0, color=PALETTE["pca"], linestyle="--", linewidth=1, label="pca")
        right.set_ylabel("test MSE / PCA's at the same width (log)")
    else:
        right.set_ylabel("test MSE per pixel (log)")
    right.set_yscale("log")
    right.set_xlabel("latent width (units kept)")
    right.set_title("MSE vs width (mean over seeds)")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=6, ncol=2)
    fig.suptitle(f"{mse['experiment'].iloc[0]}: the gap to the unconstrained and fixed-width AEs")
    fig.tight_layout()
    return fig
