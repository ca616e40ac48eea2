"""Test MSE against latent width: the paper's comparison, and the relatives of TD beside it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tridrop.figures import LABELS, PALETTE, log2_widths, ordered
from tridrop.registry import AUTOENCODER

TD = "td"
# Roles drawn in the paper's comparison (left panel) beside TD; the other models (variants of
# TD and relatives such as PCAAE) are set against the fixed-width autoencoders (right panel).
COMPARISON_ROLES = ("reference", "per_width", "control")


def groups(models) -> tuple[list[str], list[str]]:
    """(comparison, relatives) of ``models``: TD, no TD and its training-free cuts (``notd_*``),
    the fixed-width autoencoders and PCA; then every other model."""
    comparison = [
        m
        for m in ordered(models)
        if m == TD or m.startswith("notd") or AUTOENCODER.role(m) in COMPARISON_ROLES
    ]
    return comparison, [m for m in ordered(models) if m not in comparison]


def plot(df: pd.DataFrame, metric: str = "mse", ylabel: str = "test MSE per pixel") -> Figure:
    """Left: TD, no TD cut by zeroing its last units (and its training-free controls, dash-dot),
    the autoencoders trained at each fixed width (squares) and PCA (dashed), log-log.
    Right (when the experiment has other models): each relative of TD (and TD, on top) over the
    fixed-width autoencoders at their widths, or over PCA at every width where there are none.

    Lines and markers are means over seeds; bands and error bars the range over seeds.
    """
    sel = df[df["metric"] == metric]
    if sel.empty:
        raise ValueError(f"no rows for metric {metric!r}")
    comparison, relatives = groups(sel["model"].unique())
    seeds = int(sel[sel["model"] != "pca"].groupby("model")["seed"].nunique().max())
    panels = 2 if relatives else 1
    fig, axes = plt.subplots(
        1, panels, figsize=(6.2 * panels, 5.6), squeeze=False, layout="constrained"
    )
    widths = sorted(sel["width"].unique())
    left = axes[0, 0]
    for model in comparison:
        _curve(left, sel[sel["model"] == model], model)
    left.set_yscale("log")
    left.set_ylabel(f"{ylabel} (log scale)")
    left.set_title("the paper's comparison", fontsize=10)
    left.legend(
        fontsize=7.5,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.16),
        ncol=2,
        title=f"lines: mean over {seeds} seeds; bands and bars: range over seeds",
        title_fontsize=7.5,
    )
    spans = [widths]
    if relatives:
        shown = [*relatives, TD] if TD in set(sel["model"]) else relatives
        spans.append(_ratios(axes[0, 1], sel, shown) or widths)
    for ax, span in zip(axes[0], spans, strict=True):
        log2_widths(ax, span)
        ax.set_xlabel("latent width w (units kept, log scale)")
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"{sel['experiment'].iloc[0]}: {ylabel} vs latent width", fontsize=11)
    return fig


def _style(model: str) -> dict:
    if model == TD:  # the method under test: thick and on top of everything it matches
        return {"linestyle": "-", "linewidth": 2.4, "zorder": 6}
    if model == "pca":
        return {"linestyle": "--", "linewidth": 1.3, "zorder": 3}
    if model.startswith("notd_"):
        return {"linestyle": "-.", "linewidth": 1.4, "zorder": 4}
    return {"linestyle": "-", "linewidth": 1.4, "zorder": 4}


def _label(model: str) -> str:
    return LABELS.get(model, model)


def _curve(ax: Axes, rows: pd.DataFrame, model: str) -> None:
    """A model's mean over seeds against width: a line with a band, or for the fixed-width
    autoencoders one square per width with the range as an error bar."""
    g = rows.groupby("width")["value"].agg(["mean", "min", "max"])
    color = PALETTE.get(model)
    if AUTOENCODER.role(model) == "per_width":
        ax.errorbar(
            g.index,
            g["mean"],
            yerr=[g["mean"] - g["min"], g["max"] - g["mean"]],
            fmt="s",
            markersize=6,
            capsize=2,
            color=color,
            label=_label(model),
            zorder=5,
        )
        return
    style = _style(model)
    marker = {"marker": "o", "markersize": 3} if len(g) <= 16 else {}
    ax.plot(g.index, g["mean"], color=color, label=_label(model), **marker, **style)
    if rows["seed"].nunique() > 1:
        ax.fill_between(g.index, g["min"], g["max"], color=color, alpha=0.18, linewidth=0, zorder=2)


def _ratios(ax: Axes, sel: pd.DataFrame, models: list[str]) -> list[int] | None:
    """Each model's MSE over that of the autoencoder trained at the same width (the fixed-width
    ones, and no TD at full width), at those widths; over PCA's at every width when there are
    no fixed-width autoencoders. Mean over seeds of the per-seed ratio; bars: the range."""
    present = set(sel["model"])
    mean = sel.groupby(["model", "width"])["value"].mean()
    if "fixed" in present:
        reference, name = mean["fixed"], "the AE trained at width w"
        full = int(sel["width"].max())
        if "notd" in present and full not in reference.index:  # no TD: the AE trained at W
            reference = pd.concat([reference, mean["notd"].loc[[full]]])
            name += " (at full width: no TD)"
        ylabel = "test MSE / that of the AE trained at width w"
    elif "pca" in present:
        reference, name = mean["pca"], "PCA (no fixed-width AEs here)"
        ylabel = "test MSE / PCA's at the same width"
    else:  # nothing to divide by: the relatives' own MSE
        for model in models:
            _curve(ax, sel[sel["model"] == model], model)
        ax.set_yscale("log")
        ax.set_ylabel("test MSE per pixel (log scale)")
        ax.set_title("relatives of TD", fontsize=10)
        ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
        return
    for model in models:
        rows = sel[(sel["model"] == model) & sel["width"].isin(reference.index)]
        ratio = rows["value"] / rows["width"].map(reference).to_numpy()
        g = ratio.groupby(rows["width"]).agg(["mean", "min", "max"])
        ax.errorbar(
            g.index,
            g["mean"],
            yerr=[g["mean"] - g["min"], g["max"] - g["mean"]],
            color=PALETTE.get(model),
            label=_label(model),
            marker="o",
            markersize=4.5 if model == TD else 3.5,
            capsize=2,
            elinewidth=0.8,
            **_style(model),
        )
    ax.axhline(1.0, color="k", linestyle=":", linewidth=1.2, label=f"= {name}")
    ax.set_ylabel(ylabel)
    ax.set_title(f"relatives of TD over {name.split(' (')[0]}", fontsize=10)
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    return sorted(reference.index)
