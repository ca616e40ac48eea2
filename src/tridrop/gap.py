"""The gap report of a family: how far each model that serves every width is from the
references, at full width and at each width a model was trained at.

For each such model, per seed, then mean and standard deviation over seeds (the loss is the
family's, lower is better: a reconstruction error, a classification error):

- ``full``: its loss at full width over the unconstrained model's (``notd``, mean over seeds)
  at full width: the price of training for every width;
- ``fixed_w<w>``: its loss at width w over the model trained at w (mean over seeds), and
  ``fixed_geomean``, their geometric mean: what it costs against retraining per width;
- ``passes`` and ``time``: training cost (full forward passes per training row; wall time from
  the run's per-epoch history) over the unconstrained run's; ``epochs``: its budget.

``pareto`` marks the models no other model beats on both ``full`` and ``fixed_geomean``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from tridrop.registry import Family

# The models that serve every width from one training: the variants, the unconstrained
# reference and the relatives (not the per-width baselines or the training-free controls).
SERVE_EVERY_WIDTH = ("variant", "reference", "relative")
COST_COLUMNS = ["model", "seed", "forward_passes", "seconds", "epochs"]


def costs(meta: dict, model: str) -> dict:
    """One run's cost row from its metadata (``model.json``)."""
    seconds = sum(r["seconds"] for r in meta["history"])
    return {
        "model": model,
        "seed": int(meta["train"]["seed"]),
        "forward_passes": float(meta.get("forward_passes", np.nan)),
        "seconds": float(seconds),
        # Which budget each ratio comes from (issue 21): a variant trained longer says so.
        "epochs": int(meta["train"]["epochs"]),
    }


def gap_table(
    sweeps: pd.DataFrame, cost: pd.DataFrame, family: Family, metric: str, notd: str = "notd"
) -> pd.DataFrame:
    """One row per model: the ratios above, mean and std over seeds, and the Pareto flag.

    ``metric``: a loss (lower is better) in the sweeps' rows; the models are those of
    ``family`` that serve every width and have a cost row.
    """
    mse = sweeps[sweeps["metric"] == metric]
    full = int(mse["width"].max())
    mean = mse.groupby(["model", "width"])["value"].mean()
    serve = [m for m in mse["model"].unique() if family.role(m) in SERVE_EVERY_WIDTH]
    models = [m for m in serve if m in set(cost["model"])]
    if notd not in models:
        raise ValueError(f"the gap report needs the unconstrained model {notd!r}")
    fixed = mean["fixed"] if "fixed" in mean.index.get_level_values("model") else pd.Series()
    ref_cost = cost[cost["model"] == notd][["forward_passes", "seconds"]].mean()
    per_seed = []
    for (model, seed), g in mse[mse["model"].isin(models)].groupby(["model", "seed"]):
        by = g.set_index("width")["value"]
        row = {"model": model, "seed": seed}
        row["full"] = by.get(full, np.nan) / mean[notd][full]
        ratios = {w: by.get(w, np.nan) / f for w, f in fixed.items()}
        row |= {f"fixed_w{w}": r for w, r in ratios.items()}
        logs = np.log(list(ratios.values())) if ratios else np.array([np.nan])
        row["fixed_geomean"] = float(np.exp(logs.mean()))  # NaN if a width is missing
        c = cost[(cost["model"] == model) & (cost["seed"] == seed)]
        row["passes"] = c["forward_passes"].mean() / ref_cost["forward_passes"]
        row["time"] = c["seconds"].mean() / ref_cost["seconds"]
        row["epochs"] = c["epochs"].mean()
        per_seed.append(row)
    df = pd.DataFrame(per_seed)
    values = [c for c in df.columns if c not in ("model", "seed")]
    g = df.groupby("model", sort=False)
    out = g[values].mean()
    std = g[values].std().fillna(0.0).add_suffix("_std")
    out = pd.concat([out, std], axis=1)[[c for v in values for c in (v, f"{v}_std")]]
    # The worst width: the largest mean ratio to a model trained at that width.
    fixed_cols = [f"fixed_w{w}" for w in fixed.index]
    out["fixed_worst"] = out[fixed_cols].max(axis=1, skipna=False) if fixed_cols else np.nan
    out["seeds"] = g.size()
    out["pareto"] = pareto(out["full"], out["fixed_geomean"])
    return out.reset_index().sort_values("full", ignore_index=True)


def pareto(x: pd.Series, y: pd.Series) -> pd.Series:
    """True where no other point is at most as large on both axes and smaller on one."""
    ok = x.notna() & y.notna()
    flags = []
    for i in x.index:
        if not ok[i]:
            flags.append(False)
            continue
        others = ok & (x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))
        flags.append(not others.any())
    return pd.Series(flags, index=x.index)


def front_summary(
    table: pd.DataFrame,
    labels: dict[str, str] | None = None,
    loss: str = "MSE",
    model: str = "model",
) -> str:
    """A Markdown bullet per model on the Pareto front: where it sits and what it costs
    (``loss`` and ``model``: the family's words for its loss and its models)."""
    labels = labels or {}
    lines = []
    for r in table[table["pareto"]].sort_values("full").itertuples():
        # A model file written before pass counting existed has none: say so, not "nanx".
        costs = [
            f"{value:.2g}x its {what}" if np.isfinite(value) else f"{what} not recorded"
            for value, what in ((r.passes, "forward passes"), (r.time, "wall time"))
        ]
        lines.append(
            f"- `{r.model}`, {labels.get(r.model, r.model)}: full-width {loss} {r.full:.3f}x the "
            f"unconstrained {model}'s, {r.fixed_geomean:.3f}x the fixed-width {model}s' "
            f"(geometric mean; worst width {r.fixed_worst:.3f}x); cost: {' and '.join(costs)}"
        )
    return "\n".join(lines) if lines else "No model has both ratios."


def markdown(table: pd.DataFrame) -> str:
    """The gap report as Markdown: ratios to no TD and to the fixed widths, costs, the front."""
    fixed = [c for c in table.columns if re.fullmatch(r"fixed_w\d+", c)]
    heads = [
        "full width / no TD",
        *(f"w={c[7:]} / fixed" for c in fixed),
        "geo. mean / fixed",
        "worst / fixed",
        "forward passes / no TD",
        "wall time / no TD",
        *(["epochs"] if "epochs" in table else []),
        "Pareto",
    ]
    lines = ["| model | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]

    def cell(r, c):
        v, sd = r[c], r.get(f"{c}_std")
        if pd.isna(v):
            return "n/a"
        return f"{v:.3f}" if sd is None else f"{v:.3f} ± {sd:.2g}"

    for _, r in table.iterrows():
        cols = ["full", *fixed, "fixed_geomean", "fixed_worst", "passes", "time"]
        cells = [cell(r, c) for c in cols]
        cells += [f"{r['epochs']:g}"] if "epochs" in table else []
        cells += ["**yes**" if r["pareto"] else ""]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def budgets(table: pd.DataFrame) -> str:
    """Which budget the gap report's ratios come from, where a model trained longer than the
    references (no TD, and the models trained at one width, which train as long)."""
    if "epochs" not in table or "notd" not in set(table["model"]):
        return ""
    ref = float(table.loc[table["model"] == "notd", "epochs"].iloc[0])
    longer = table[table["epochs"] > ref]
    if longer.empty:
        return f" Every model trained {ref:g} epochs."
    names = ", ".join(
        f"{m} ({e:g})" for m, e in zip(longer["model"], longer["epochs"], strict=True)
    )
    return (
        f" The references trained {ref:g} epochs; {names} trained longer, so its ratios are not "
        "at matched training (a budget series is: every model as long at each budget)."
    )


def gap_section(
    name: str,
    table: pd.DataFrame,
    what: str,
    link: Callable[[Path], str],
    loss: str = "MSE",
    model: str = "model",
) -> list[str]:
    """A results page's section on one experiment's gap report (``what``: the ratios, in
    the family's words)."""
    from tridrop.figures import LABELS

    widths = ", ".join(c[7:] for c in table.columns if re.fullmatch(r"fixed_w\d+", c))
    return [
        f"### {name}: the gap report",
        "",
        f"{what}, and its training cost over the unconstrained run's (mean ± std over seeds; "
        f"definitions in [gap.md]({link(Path('docs/gap.md'))})). The geometric mean and the "
        f"worst width cover every fixed width: {widths}.{budgets(table)}",
        "",
        markdown(table),
        "",
        f"On the Pareto front (full-width {loss} against small-width {loss}):",
        "",
        front_summary(table, LABELS, loss, model),
        "",
    ]
