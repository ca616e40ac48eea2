"""The policy figure: normalised return against width, every model with its interval."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd

from tridrop.figures import LABELS, PALETTE, log2_widths, ordered


def plot(
    curve: pd.DataFrame, experiment: str = "", ylabel: str = "normalised return"
) -> plt.Figure:
    """Mean normalised return (0: random policy, 1: the expert) of each model at each width,
    with its bootstrap interval over seeds and episodes; a model swept at one width (no TD at
    full width) is a point."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for model in ordered(set(curve["model"])):
        c = curve[curve["model"] == model].sort_values("width")
        colour = PALETTE.get(model)
        # No TD is swept at full width only (its cuts are their own models).
        label = "no TD, full width" if model == "notd" else LABELS.get(model, model)
        marker = "o" if len(c) == 1 else "."
        ax.plot(c["width"], c["mean"], marker=marker, color=colour, label=label)
        if len(c) > 1:
            ax.fill_between(c["width"], c["low"], c["high"], color=colour, alpha=0.2)
        else:
            err = [c["mean"] - c["low"], c["high"] - c["mean"]]
            ax.errorbar(c["width"], c["mean"], yerr=err, color=colour, fmt="none")
    ax.axhline(1.0, color="black", lw=0.8, ls="--", label="expert")
    ax.axhline(0.0, color="grey", lw=0.8, ls=":", label="random policy")
    log2_widths(ax, sorted(set(curve["width"])))
    ax.set_xlabel("hidden width (both layers)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{experiment}: closed-loop return by width" if experiment else "")
    # Beside the axes: inside, it hid some curve in every layout tried.
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def plot_complexity(table: pd.DataFrame, full: int) -> plt.Figure:
    """The task-complexity table as a figure: per environment (rows) and model (markers), the
    smallest width reaching each level (panels) with its bootstrap interval; a width never
    reached sits at "never", right of full width."""
    levels = sorted(set(table["level"]))
    envs = list(dict.fromkeys(table["experiment"]))
    models = ordered(set(table["model"]))
    never = 4 * full  # two log2 steps right of full width: its label clear of full width's
    height = 0.25 * len(envs) * len(models) + 1.5
    fig, axes = plt.subplots(
        1, len(levels), figsize=(4 * len(levels) + 2, height), sharey=True, squeeze=False
    )
    step = 0.7 / max(1, len(models))
    for ax, level in zip(axes[0], levels, strict=True):
        for k, model in enumerate(models):
            rows = table[(table["model"] == model) & (table["level"] == level)]
            y = [envs.index(e) + (k - (len(models) - 1) / 2) * step for e in rows["experiment"]]
            x, lo, hi = (rows[c].clip(upper=never).to_numpy() for c in ("width", "low", "high"))
            ax.errorbar(
                x,
                y,
                xerr=[x - lo, hi - x],
                fmt="o",
                ms=4,
                capsize=2,
                color=PALETTE.get(model),
                label=LABELS.get(model, model),
            )
        ax.axvline(full, color="grey", lw=0.8, ls=":")
        log2_widths(ax, [1, never])
        ticks = [t for t in ax.get_xticks() if t <= full] + [never]
        ax.set_xticks(ticks, [str(int(t)) for t in ticks[:-1]] + ["never"], fontsize=8)
        ax.set_xlim(0.8, never * 1.25)
        ax.set_xlabel(f"width reaching {level:.0%} of full width's return")
    axes[0][0].set_yticks(range(len(envs)), envs)
    axes[0][0].invert_yaxis()  # shared: the first environment on top, TD first in each
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("task complexity: the width each model needs (95% bootstrap intervals)")
    fig.tight_layout()
    return fig


def _tip(o) -> float:
    """Acrobot's tip height: -cos(t1) - cos(t1 + t2), from (cos t1, sin t1, cos t2, sin t2)."""
    return -o["obs0"] - (o["obs0"] * o["obs2"] - o["obs1"] * o["obs3"])


def _double_tip(o) -> float:
    """InvertedDoublePendulum's tip height, 0.6 (cos t1 + cos(t1 + t2)) from the observation
    (x, sin t1, sin t2, cos t1, cos t2, ...): the hinge is at height 0, each pole 0.6 m."""
    return 0.6 * (o["obs3"] + o["obs3"] * o["obs4"] - o["obs1"] * o["obs2"])


# Per environment: what the trajectory figure shows, computed from one step's observation.
TRACES = {
    "CartPole-v1": ("pole angle (rad)", lambda o: o["obs2"]),
    "Acrobot-v1": ("tip height (goal: above 1)", _tip),
    "Pendulum-v1": ("pole angle (rad, 0: upright)", lambda o: math.atan2(o["obs1"], o["obs0"])),
    "MountainCar-v0": ("car position (goal: 0.5)", lambda o: o["obs0"]),
    "MountainCarContinuous-v0": ("car position (goal: 0.45)", lambda o: o["obs0"]),
    # MuJoCo (v5 observations): the pole's angle; the double pendulum's tip height.
    "InvertedPendulum-v5": ("pole angle (rad; the episode ends past 0.2)", lambda o: o["obs1"]),
    "InvertedDoublePendulum-v5": ("tip height (m; the episode ends at 1)", _double_tip),
    "Hopper-v5": ("torso height (m; the episode ends below 0.7)", lambda o: o["obs0"]),
}


def plot_trajectory(rows: pd.DataFrame, experiment: str = "") -> plt.Figure:
    """One evaluation episode of the expert and of a student cut to a few widths: the
    environment's telling quantity (:data:`TRACES`) at every step."""
    env = str(rows["env"].iloc[0])
    label, value = TRACES.get(env, ("first observation", lambda o: o["obs0"]))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    students = sorted(set(rows.loc[rows["model"] != "expert", "width"]))
    cmap = plt.get_cmap("viridis")
    for (model, width), run in rows.groupby(["model", "width"], sort=False):
        y = [value(o) for _, o in run.sort_values("step").iterrows()]
        if model == "expert":
            kw = {"color": "black", "ls": "--", "label": "expert"}
        else:
            shade = students.index(width) / max(1, len(students) - 1)
            kw = {"color": cmap(0.9 * shade), "label": f"{LABELS.get(model, model)}, width {width}"}
        ax.plot(range(len(y)), y, lw=1.2, **kw)
    ax.set_xlabel("step")
    ax.set_ylabel(label)
    ax.set_title(f"{experiment}: one episode by width" if experiment else "")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
