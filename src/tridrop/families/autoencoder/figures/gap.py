"""The gap report's figure: full-width against small-width cost, and MSE against width."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tridrop.figures import PALETTE, log2_widths

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
        dots = {"marker": "."} if len(y) <= 16 else {}  # many widths: a plain line
        style = {"linestyle": ":", "marker": "s"} if model == "fixed" else dots
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
    log2_widths(right, sorted(set(mse["width"])))
    right.set_xlabel("latent width (units kept, log scale)")
    right.set_title("MSE vs width (mean over seeds; below 1 beats PCA)")
    right.grid(True, alpha=0.3)
    right.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    fig.suptitle(f"{mse['experiment'].iloc[0]}: the gap to the unconstrained and fixed-width AEs")
    fig.tight_layout()
    _labels(left, t, top)  # placed in the final layout, where their sizes are known
    return fig


def _labels(ax, t: pd.DataFrame, top: float) -> None:
    """Name each point beside it: of the places on rings around the point (nearest first), the
    first where the label's measured box covers no marker, no error bar and no earlier label
    and stays inside the axes; a label set off from its point gets a thin leader line."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    shown = t[t["fixed_geomean"] <= top]
    to_px = ax.transData.transform
    pad = 3.0
    obstacles: list[tuple[float, float, float, float]] = []  # boxes in pixels: x0, y0, x1, y1
    for r in shown.itertuples():
        x, y = to_px((r.full, r.fixed_geomean))
        m = 9.0 if r.pareto else 6.0  # half a marker, in pixels
        obstacles.append((x - m, y - m, x + m, y + m))
        (x0, _), (x1, _) = to_px([(r.full - r.full_std, 0), (r.full + r.full_std, 0)])
        obstacles.append((x0, y - 2, x1, y + 2))  # the horizontal error bar
        (_, y0), (_, y1) = to_px(
            [(0, r.fixed_geomean - r.fixed_geomean_std)] * 1
            + [(0, r.fixed_geomean + r.fixed_geomean_std)]
        )
        obstacles.append((x - 2, y0, x + 2, y1))  # the vertical one
    placed: list[tuple[float, float, float, float]] = []
    scale = fig.dpi / 72  # pixels per point

    def clear(box) -> bool:
        x0, y0, x1, y1 = box
        if x0 < inside.x0 + pad or x1 > inside.x1 - pad or y0 < inside.y0 + pad:
            return False
        if y1 > inside.y1 - pad:
            return False
        return not any(
            x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in obstacles + placed
        )

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
        x, y = to_px((r.full, r.fixed_geomean))
        probe = ax.text(0, 0, r.model, fontsize=8)
        box = probe.get_window_extent(renderer)
        probe.remove()
        w, h = box.width, box.height
        best = None
        for radius in (10, 18, 28, 40, 55, 75, 100):
            for angle in (0, 180, 90, 270, 30, 150, 330, 210, 60, 120, 300, 240):
                dx = radius * np.cos(np.radians(angle))
                dy = radius * np.sin(np.radians(angle))
                # The label's box sits on the side of the point the angle points to.
                bx = x + dx - (w if dx < -1e-6 else 0 if dx > 1e-6 else w / 2)
                by = y + dy - (h if dy < -1e-6 else 0 if dy > 1e-6 else h / 2)
                cand = (bx, by, bx + w, by + h)
                if clear(cand):
                    best = (cand, radius)
                    break
            if best:
                break
        if best is None:  # nowhere clear: right of the point
            best = ((x + 10, y - h / 2, x + 10 + w, y + h / 2), 10)
        (bx, by, _, _), radius = best
        placed.append(best[0])
        leader = (
            {"arrowprops": {"arrowstyle": "-", "color": "0.5", "linewidth": 0.6, "shrinkB": 5}}
            if radius > 18
            else {}
        )
        ax.annotate(
            r.model,
            (r.full, r.fixed_geomean),
            xytext=((bx - x) / scale, (by - y) / scale),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=8,
            color=PALETTE.get(r.model),
            **leader,
        )
