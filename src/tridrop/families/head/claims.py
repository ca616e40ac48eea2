"""The paper's "minimal impact" claims for a pruned classifier head, each a contrast with a
control (:mod:`tridrop.claims`); thresholds in :class:`~tridrop.families.head.specs.HeadClaims`.

Per seed of the TD head, then a 95% interval over seeds. The controls need no training:

- at a parameter budget, the unconstrained reference head cut without retraining, by its
  truncated SVD (``svd``) or by ranking its units (``ranked``), whichever keeps more top-1
  (relative to the reference's own top-1);
- at full width, the narrowest head trained at a fixed width (``fixed``): if it too is within
  the gap of the reference, the gap says little about TD.
"""

from __future__ import annotations

import math

import pandas as pd

from tridrop.claims import claim, per_seed, table
from tridrop.families.head.specs import HeadClaims

TRAINING_FREE = ("svd", "ranked")


def _within(rows: pd.DataFrame, budget: float) -> pd.Series | None:
    """The row with the most parameters within ``budget`` of the full head (a fraction)."""
    fits = rows[rows["head_pct"] <= 100 * budget + 1e-9].sort_values("head_params")
    return None if fits.empty else fits.iloc[-1]


def head_claims(table_: pd.DataFrame, sweeps: pd.DataFrame, spec: HeadClaims) -> pd.DataFrame:
    """Claim rows: top-1 kept at 25% and 10% of head parameters; the full-width gap.

    At each budget the widest swept TD width whose head has at most that share of the
    full-width head's parameters is used; the value is its top-1 over the full-width top-1,
    per seed. The gap is the reference (unconstrained network) top-1 minus TD's at full width.
    """
    model = spec.model
    td = table_[table_["model"] == model].sort_values("head_params")
    if td.empty:
        raise ValueError(f"no rows of model {model!r} in the table")
    exp = td["experiment"].iloc[0]
    top1 = sweeps[(sweeps["experiment"] == exp) & (sweeps["metric"] == "top1")]
    runs = per_seed(top1)
    full = int(td.iloc[-1]["width"])
    ref = table_[table_["model"] == "reference"]
    ref_top1 = float(ref["top1"].iloc[0]) if not ref.empty else math.nan
    rows = []
    for budget, threshold in ((0.25, spec.kept_25), (0.10, spec.kept_10)):
        r = _within(td, budget)
        if r is None:
            continue
        w = int(r["width"])
        kept = (runs[model][w] / runs[model][full]).to_numpy()
        control, value = "", math.nan
        found = {
            m: float(c["top1"]) / ref_top1
            for m in TRAINING_FREE
            if (c := _within(table_[table_["model"] == m], budget)) is not None
        }
        if found and not math.isnan(ref_top1):
            best = max(found, key=found.get)
            control, value = f"reference cut by {best}, no training", found[best]
        rows.append(
            claim(
                f"{model}: top-1 kept at <= {budget:.0%} of head parameters (width {w}, "
                f"{r['head_pct']:.1f}% of head), relative to full width: >= {threshold}",
                "top1_ratio",
                kept,
                threshold,
                ">=",
                control,
                value,
            )
        )
    # Matched training (issue 21): where a no-TD head was retrained on the same cache for the
    # same epochs (variant notd), the gap is to it, paired by seed; else to the reference.
    matched = "notd" in runs and full in runs["notd"]
    if matched or not ref.empty:
        base = runs["notd"][full] if matched else ref_top1
        gap = (base - runs[model][full]).to_numpy()
        against = (
            "a no-TD head retrained on the cache as long (notd minus TD)"
            if matched
            else "the unconstrained network (reference minus TD)"
        )
        control, value = "", math.nan
        fixed = table_[table_["model"] == "fixed"].sort_values("width")
        if not fixed.empty:
            narrow = fixed.iloc[0]
            control = f"a head trained at width {int(narrow['width'])}"
            value = float(pd.Series(base).mean()) - float(narrow["top1"])
        rows.append(
            claim(
                f"{model}: full-width top-1 gap to {against}: <= {spec.max_gap}",
                "top1_gap",
                gap,
                spec.max_gap,
                "<=",
                control,
                value,
            )
        )
    return table(exp, rows)
