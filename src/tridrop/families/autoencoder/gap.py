"""The gap report: how far each variant is from the references at full and at small widths.

For each model that serves every width (the variants and PCAAE), per seed, then mean and
standard deviation over seeds:

- ``full``: its MSE at full width over the unconstrained autoencoder's (``notd``, mean over
  seeds) at full width: the price of training for every width;
- ``fixed_w<w>``: its MSE at width w over the autoencoder trained at w (mean over seeds), and
  ``fixed_geomean``, their geometric mean: what it costs against retraining per width;
- ``passes`` and ``time``: training cost (full forward passes per training image; wall time
  from the run's per-epoch history) over the unconstrained run's; ``epochs``: its budget (the
  references, no TD and the fixed-width autoencoders, train the experiment's epochs).

``pareto`` marks the models no other model beats on both ``full`` and ``fixed_geomean``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tridrop.registry import AUTOENCODER

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


def gap_table(sweeps: pd.DataFrame, cost: pd.DataFrame, notd: str = "notd") -> pd.DataFrame:
    """One row per model: the ratios above, mean and std over seeds, and the Pareto flag."""
    mse = sweeps[sweeps["metric"] == "mse"]
    full = int(mse["width"].max())
    mean = mse.groupby(["model", "width"])["value"].mean()
    models = [m for m in mse["model"].unique() if AUTOENCODER.role(m) in SERVE_EVERY_WIDTH]
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
    # The worst width: the largest mean ratio to a fixed-width autoencoder.
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


def front_summary(table: pd.DataFrame, labels: dict[str, str] | None = None) -> str:
    """A Markdown bullet per model on the Pareto front: where it sits and what it costs."""
    labels = labels or {}
    lines = []
    for r in table[table["pareto"]].sort_values("full").itertuples():
        # A model file written before pass counting existed has none: say so, not "nanx".
        costs = [
            f"{value:.2g}x its {what}" if np.isfinite(value) else f"{what} not recorded"
            for value, what in ((r.passes, "forward passes"), (r.time, "wall time"))
        ]
        lines.append(
            f"- `{r.model}`, {labels.get(r.model, r.model)}: full-width MSE {r.full:.3f}x the "
            f"unconstrained autoencoder's, {r.fixed_geomean:.3f}x the fixed-width autoencoders' "
            f"(geometric mean; worst width {r.fixed_worst:.3f}x); cost: {' and '.join(costs)}"
        )
    return "\n".join(lines) if lines else "No model has both ratios."
