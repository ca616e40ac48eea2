"""Accuracy against head parameters: the TD head cut to each width beside its baselines."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tridrop.dropout import triangle_widths
from tridrop.families.head.specs import HeadFigure
from tridrop.families.head.tables import PROBE
from tridrop.figures import LABELS, PALETTE, ordered
from tridrop.registry import HEAD

# Models that serve every width by another objective or width distribution than TD's.
RELATIVES = (
    "random",
    "nested",
    "loguniform",
    "td_mix",
    "td_long",
    "matryoshka",
    "sandwich",
    "sandwich_distill",
)

# Top-5 is drawn only where a guess of five classes is rarely right (at most 5%): with 10
# classes it is right half the time, and the table keeps top-5 for every experiment.
TOP5_CLASSES = 100


def plot(table: pd.DataFrame, spec: HeadFigure | None = None) -> Figure:
    """Test top-1 (mean, error bar: std over seeds) against the head's parameter count, each
    head cut to a width; top-5 beside it for :data:`TOP5_CLASSES` classes or more.

    ``table``: the accuracy-vs-parameters table (``tridrop head table``); the reference head
    (unconstrained network) is a star at full width; a ``linear_probe`` row (no hidden layer)
    is a dashed line at its accuracy; chance (1/classes) a dotted line. Widths the triangle
    mask never trained (``spec.batch_size`` < ``spec.hidden``) are open markers.
    """
    spec = spec or HeadFigure()
    metrics = ["top1"]
    if spec.classes >= TOP5_CLASSES and "top5" in table:
        metrics.append("top5")
    untrained = set()
    if spec.triangle and spec.hidden:
        untrained = set(range(1, spec.hidden + 1)) - triangle_widths(spec.hidden, spec.batch_size)
    models = [m for m in ordered(table["model"]) if m != PROBE]
    # With the relatives (other objectives serving every width) a second column of panels
    # sets them against TD and the per-width heads, so neither panel has a dozen curves.
    relatives = [m for m in models if m in RELATIVES]
    groups = [[m for m in models if m not in RELATIVES]]
    if relatives:
        groups.append([m for m in models if m in ("td", "notd", "fixed", *relatives)])
    rows, cols = (len(metrics), 2) if relatives else (1, len(metrics))
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(7.2 if cols == 1 else 12.4, 5.0 * rows),
        squeeze=False,
        layout="constrained",
    )
    panels = [
        (axes[i, j] if relatives else axes[0, i], metric, group, j)
        for i, metric in enumerate(metrics)
        for j, group in enumerate(groups)
    ]
    for ax, metric, group, j in panels:
        if relatives:
            ax.set_title("TD and its controls" if j == 0 else "TD and its relatives", fontsize=10)
        for m in group:
            _model(
                ax, table[table["model"] == m], m, metric, untrained if m in spec.triangle else ()
            )
        probe = table[table["model"] == PROBE]
        if len(probe):
            value = float(probe[metric].mean())
            ax.axhline(value, color=PALETTE[PROBE], linestyle="--", linewidth=1.2)
            ax.plot(
                probe["head_params"],
                probe[metric],
                "D",
                color=PALETTE[PROBE],
                label=f"{LABELS[PROBE]}: {value:.3f}",
            )
        if spec.classes:
            k = 1 if metric == "top1" else 5
            chance = min(1.0, k / spec.classes)
            ax.axhline(chance, color="0.3", linestyle=":", linewidth=1.2)
            ax.annotate(
                f"chance ({k}/{spec.classes})",
                (0.99, chance),
                xycoords=("axes fraction", "data"),
                xytext=(0, 3),
                ha="right",
                textcoords="offset points",
                fontsize=7.5,
                color="0.3",
            )
        _budgets(ax, table, spec)
        ax.set_xscale("log")
        ax.set_xlabel("head parameters (log scale)")
        ax.set_ylabel(f"test {metric.replace('top', 'top-')} accuracy")
        ax.grid(True, which="both", alpha=0.3)
    seeds = int(table["seeds"].max())
    note = f"error bars: std over up to {seeds} seeds"
    if untrained:
        shown = sorted(untrained & set(table.loc[table["model"].isin(spec.triangle), "width"]))
        if shown:
            step = spec.hidden / spec.batch_size
            every = f"multiples of {step:g}" if step == int(step) else "some widths"
            note += (
                f"\nopen markers: widths the triangle mask never trains (batch {spec.batch_size}"
                f" < width {spec.hidden}: only {every}): {', '.join(map(str, shown))}"
            )
    seen = {}  # every panel's entries once (the relatives are only in the second column)
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, h)
    handles, labels = list(seen.values()), list(seen)
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncol=2,
        fontsize=8,
        frameon=False,
        title=note,
        title_fontsize=8,
    )
    fig.suptitle(
        f"{table['experiment'].iloc[0]}: test accuracy vs head parameters "
        "(heads cut to a width; dashed: trained after the cut)",
        fontsize=11,
    )
    return fig


def _model(ax: Axes, t: pd.DataFrame, model: str, metric: str, untrained) -> None:
    t = t.sort_values("head_params")
    color = PALETTE.get(model)
    label = LABELS.get(model, model)
    std = t.get(f"{metric}_std")
    if model == "reference":  # the unconstrained head: one point at full width
        ax.errorbar(
            t["head_params"],
            t[metric],
            yerr=std,
            fmt="*",
            markersize=13,
            color=color,
            label=label,
            zorder=4,
        )
        return
    ax.errorbar(
        t["head_params"],
        t[metric],
        yerr=std,
        capsize=2,
        color=color,
        label=label,
        marker="s" if HEAD.role(model) == "reference" else "o",  # no TD: a square, dash-dot
        markersize=4,
        linestyle="--" if model.endswith("_ft") else "-." if model == "notd" else "-",
        zorder=3 if model != "td" else 5,
        linewidth=2.0 if model == "td" else 1.4,
    )
    open_ = t[t["width"].isin(untrained)]
    if len(open_):
        ax.plot(
            open_["head_params"],
            open_[metric],
            "o",
            markersize=7,
            markerfacecolor="white",
            markeredgecolor=color,
            markeredgewidth=1.4,
            zorder=6,
        )


def _budgets(ax: Axes, table: pd.DataFrame, spec: HeadFigure) -> None:
    """Dotted lines at the claims' budgets: a tenth and a quarter of the full head's
    parameters, or (``vgg19``) the TD heads with VGG19's hidden units per class there."""
    from tridrop.families.head.claims import vgg19_row, vgg19_units_per_class

    full = table["head_params"].max()
    td = table[table["model"] == "td"]
    for pct in (10, 25):
        at, text = full * pct / 100, f"{pct}% of head"
        if spec.budgets == "vgg19" and spec.classes and len(td):
            row = vgg19_row(td, pct / 100, spec.classes)
            if row is None:
                continue
            units = vgg19_units_per_class(pct / 100)
            at, text = row["head_params"], f"VGG19's {pct}% ({units:.3g} units/class)"
        ax.axvline(at, color="grey", linestyle=":", linewidth=1)
        ax.annotate(
            text,
            (at, 0.02),
            rotation=90,
            fontsize=7,
            xycoords=("data", "axes fraction"),
            color="grey",
            ha="right",
            # Legible where a curve crosses the line.
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5},
            zorder=8,
        )


def plot_grid(grid: pd.DataFrame) -> Figure:
    """Widths per layer: mean top-1 over the (w1, w2) grid (left), and every pair's top-1
    against its parameters with the Pareto front and the tied pairs (w1 = w2, the paper's cut)."""
    from tridrop.families.head.grid import tied_on_front

    fig, (left, right) = plt.subplots(1, 2, figsize=(12.4, 5.0), layout="constrained")
    heat = grid.pivot(index="w1", columns="w2", values="top1").sort_index(ascending=False)
    image = left.imshow(heat.to_numpy(), cmap="viridis", aspect="auto")
    left.set_xticks(range(len(heat.columns)), [str(w) for w in heat.columns], fontsize=7)
    left.set_yticks(range(len(heat.index)), [str(w) for w in heat.index], fontsize=7)
    left.set_xlabel("w2: units kept in the second hidden layer")
    left.set_ylabel("w1: units kept in the first hidden layer")
    fig.colorbar(image, ax=left, label="test top-1 (mean over seeds)")
    front = grid[grid["on_front"]].sort_values("head_params")
    tied = grid[grid["w1"] == grid["w2"]].sort_values("head_params")
    for i, w1 in enumerate(heat.index):  # the front's pairs, outlined on the map
        for j, w2 in enumerate(heat.columns):
            if ((front["w1"] == w1) & (front["w2"] == w2)).any():
                left.add_patch(
                    plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="w", lw=1.5)
                )
    right.scatter(grid["head_params"], grid["top1"], s=10, color="0.7", label="every (w1, w2)")
    right.step(
        front["head_params"],
        front["top1"],
        where="post",
        color="black",
        lw=1.2,
        label="Pareto front (white squares on the left)",
    )
    right.plot(
        tied["head_params"],
        tied["top1"],
        "o-",
        color=PALETTE["td"],
        markersize=4,
        label="tied widths (w1 = w2), the paper's cut",
    )
    right.set_xscale("log")
    right.set_xlabel("head parameters (log scale)")
    right.set_ylabel("test top-1 accuracy (mean over seeds)")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8, loc="lower right")
    on, n, gain = tied_on_front(grid)
    fig.suptitle(
        f"{grid['experiment'].iloc[0]}, {LABELS.get(grid['model'].iloc[0], grid['model'].iloc[0])}"
        f": the two hidden layers cut independently ({int(grid['seeds'].max())} seeds)\n"
        f"tied widths on the front: {on} of {n}; the front gains up to {gain:.3f} top-1 over a "
        "tied cut at no more parameters",
        fontsize=10,
    )
    return fig
