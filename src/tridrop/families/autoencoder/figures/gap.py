"""The gap report's figure: full-width against small-width cost, and MSE against width."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from tridrop.figures import PALETTE
from tridrop.registry import AUTOENCODER

# Beyond this ratio a point or line leaves the plot (the unconstrained AE at small widths):
# the variants, all within a few tens of percent of each other, would be squeezed otherwise.
CLIP = 1.8


def plot(
    table: pd.DataFrame, sweeps: pd.DataFrame, goal: tuple[float, float] = (1.05, 1.1)
) -> Figure:
    """Left: each model at (full-width MSE / no TD, geometric-mean MSE / fixed-width AEs), error
    bars the std over seeds, stars and a line for the Pareto front, the ``goal`` box shaded.
    Right: each model's mean MSE over PCA's at the same width (below 1: better than PCA), the
    fixed-width autoencoders as squares. Values above ``CLIP`` are named at the top edge.
    """
    t = table.dropna(subset=["full", "fixed_geomean"]).sort_values("full")
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2), width_ratios=[1.1, 1])
    inside = t[t["fixed_geomean"] <= CLIP]
    inside = t if inside.empty else inside  # every model far off: show them all
    top = max(inside["fixed_geomean"].max() + inside["fixed_geomean_std"].max(), goal[1]) * 1.04
    for r in t.itertuples():
        color = PALETTE.get(r.model)
        left.errorbar(
            r.full,
            r.fixed_geomean,
            xerr=r.full_std,
            yerr=r.fixed_geomean_std,
            fmt="*" if r.pareto else "o",
            color=color,
            markersize=13 if r.pareto else 7,
            capsize=2,
        )
    front = t[t["pareto"]]
    left.plot(
        front["full"],
        front["fixed_geomean"],
        "-",
        color="k",
        alpha=0.35,
        linewidth=1,
        zorder=0,
        label="Pareto front (stars)",
    )
    left.fill_between(
        [min(0.98, t["full"].min() - 0.02), goal[0]],
        0,
        goal[1],
        color="#009E73",
        alpha=0.15,
        label=f"goal: full <= {goal[0]}x, every width <= {goal[1]}x",
    )
    left.set_ylim(min(0.98, inside["fixed_geomean"].min() * 0.97), top)
    _labels(left, t, top)
    left.set_xlabel("full-width cost: MSE at full width / no TD's (mean over seeds)")
    left.set_ylabel("small-width cost: MSE / fixed-width AEs' (geometric mean)")
    left.set_title("the gap: lower left is better (bars: std over seeds)")
    left.grid(True, alpha=0.3)
    left.legend(fontsize=8, loc="lower right")

    mse = sweeps[sweeps["metric"] == "mse"]
    mean = mse.groupby(["model", "width"])["value"].mean()
    models = set(mean.index.get_level_values("model"))
    base = mean["pca"] if "pca" in models else None
    highest = 1.0
    for model in [m for m in PALETTE if m in models] + sorted(models - set(PALETTE)):
        if model == "pca":
            continue
        y = mean[model] / base.reindex(mean[model].index) if base is not None else mean[model]
        style = {"linestyle": ":", "marker": "s"} if model == "fixed" else {"marker": "."}
        if AUTOENCODER.role(model) == "control":  # no TD cut without training: dashed
            style = {"linestyle": "--", "marker": None}
        label = f"{model} (leaves the plot)" if y.max() > CLIP and base is not None else model
        right.plot(y.index, y.to_numpy(), color=PALETTE.get(model), label=label, **style)
        if y.max() <= CLIP:
            highest = max(highest, float(y.max()))
    if base is not None:
        right.axhline(1.0, color=PALETTE["pca"], linestyle="--", linewidth=1, label="pca")
        right.set_ylabel("test MSE / PCA's at the same width")
        right.set_ylim(top=highest * 1.05)
    else:
        right.set_ylabel("test MSE per pixel")
    right.set_xlabel("latent width (units kept)")
    right.set_title("MSE vs width (mean over seeds; below 1 beats PCA)")
    right.grid(True, alpha=0.3)
    right.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    fig.suptitle(f"{mse['experiment'].iloc[0]}: the gap to the unconstrained and fixed-width AEs")
    fig.tight_layout()
    return fig


def _labels(ax, t: pd.DataFrame, top: float) -> None:
    """Name each point beside it, at the first of a few places (right, left, above, below, then
    further down) where the label covers no point and no earlier label (axes fractions)."""
    ax.get_xlim()  # settles the autoscaled limits the transform below uses
    to_axes = ax.transData + ax.transAxes.inverted()
    shown = t[t["fixed_geomean"] <= top][["full", "fixed_geomean"]].to_numpy()
    points = [tuple(p) for p in to_axes.transform(shown)]
    placed: list[tuple[float, float, float, float]] = []  # label boxes x0, y0, x1, y1

    def free(box: tuple[float, float, float, float]) -> bool:
        x0, y0, x1, y1 = box
        r = 0.012  # a marker's half size
        on_point = any(x0 - r < px < x1 + r and y0 - r < py < y1 + r for px, py in points)
        on_label = any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in placed)
        return not (on_point or on_label)

    for r in t.itertuples():
        if r.fixed_geomean > top:  # off the plot: named at the top edge with its values
            ax.annotate(
                f"{r.model} ({r.full:.2f}, {r.fixed_geomean:.2f}) above",
                (r.full, top),
                xytext=(4, -12),
                textcoords="offset points",
                fontsize=8,
            )
            continue
        x, y = to_axes.transform((r.full, r.fixed_geomean))
        w, h = 0.0115 * len(r.model), 0.035
        near = [(x + 0.02, y + 0.005), (x - 0.02 - w, y + 0.005), (x - w / 2, y + 0.03)]
        near += [(x - w / 2, y - 0.03 - h), (x + 0.02, y - 0.035 - h)]
        far = [(x + 0.02, y - 0.035 * k) for k in range(2, 12)]
        boxes = [(bx, by, bx + w, by + h) for bx, by in near + far]
        box = next((b for b in boxes if free(b)), boxes[0])
        placed.append(box)
        ax.annotate(
            r.model,
            (r.full, r.fixed_geomean),
            xytext=(box[0], box[1] + 0.008),
            textcoords="axes fraction",
            fontsize=8,
            color=PALETTE.get(r.model),
            arrowprops={"arrowstyle": "-", "color": "0.6", "linewidth": 0.5, "shrinkB": 4},
        )
