"""The paper's "minimal impact" claims for a pruned classifier head, each a contrast with a
control (:mod:`tridrop.claims`); thresholds in :class:`~tridrop.families.head.specs.HeadClaims`.

Per seed of the TD head, then a 95% interval over seeds. The controls:

- at a parameter budget, the best of those with at most the TD head's parameters there: the
  unconstrained reference head cut without retraining, by its truncated SVD (``svd``) or by
  ranking its units (``ranked``), and a linear probe on the features (``linear_probe``), each
  relative to the reference's own top-1. A budget is a share of this head's parameters, or
  (``budgets: vgg19``) the hidden units per class VGG19's head keeps at that share;
- at full width, the narrowest head trained at a fixed width (``fixed``): if it too is within
  the gap of the reference, the gap says little about TD.
"""

from __future__ import annotations

import math

import pandas as pd

from tridrop.claims import claim, per_seed, table
from tridrop.families.head.models import head_params
from tridrop.families.head.specs import HeadClaims
from tridrop.families.head.tables import PROBE

# Controls of the budget claims: no training of the head (the reference cut) or no hidden layer.
CONTROLS = {
    "svd": "reference cut by svd, no training",
    "ranked": "reference cut by ranked, no training",
    PROBE: "a linear probe (no hidden layer)",
}
VGG19 = (25088, 4096, 1000)  # VGG19's head: input features, hidden units, classes


def vgg19_units_per_class(share: float) -> float:
    """Hidden units per class of VGG19's head cut (both layers alike) to the widest width with
    at most ``share`` of its parameters: 1.135 at 25%, 0.465 at 10%."""
    d, h, c = VGG19
    full = head_params(d, h, h, c)
    return max(w for w in range(1, h + 1) if head_params(d, w, w, c) <= share * full) / c


def _within(rows: pd.DataFrame, budget: float) -> pd.Series | None:
    """The row with the most parameters within ``budget`` of the full head (a fraction)."""
    fits = rows[rows["head_pct"] <= 100 * budget + 1e-9].sort_values("head_params")
    return None if fits.empty else fits.iloc[-1]


def _at_most(rows: pd.DataFrame, params: float) -> pd.Series | None:
    """The row with the most parameters, at most ``params``."""
    fits = rows[rows["head_params"] <= params].sort_values("head_params")
    return None if fits.empty else fits.iloc[-1]


def vgg19_row(td: pd.DataFrame, share: float, classes: int) -> pd.Series | None:
    """The widest TD row within VGG19's hidden units per class at ``share`` of its head."""
    fits = td[td["width"] <= vgg19_units_per_class(share) * classes].sort_values("width")
    return None if fits.empty else fits.iloc[-1]


def _budget_row(td: pd.DataFrame, share: float, spec: HeadClaims, classes: int):
    """The TD row a budget claim measures and how the budget reads in its text."""
    if spec.budgets == "head":
        return _within(td, share), f"<= {share:.0%} of head parameters"
    units = vgg19_units_per_class(share)
    where = f"VGG19's {share:.0%} budget, {units:.3g} hidden units per class"
    return vgg19_row(td, share, classes), where


def head_claims(
    table_: pd.DataFrame, sweeps: pd.DataFrame, spec: HeadClaims, classes: int = 0
) -> pd.DataFrame:
    """Claim rows: top-1 kept at 25% and 10% budgets; the full-width gap.

    At each budget the widest swept TD width within it is used (budgets ``head``: at most that
    share of the full-width head's parameters; ``vgg19``: at most VGG19's hidden units per class
    at that share times ``classes``); the value is its top-1 over the full-width top-1, per
    seed. The gap is the reference (unconstrained network) top-1 minus TD's at full width.
    """
    if spec.budgets == "vgg19" and classes < 1:
        raise ValueError("budgets vgg19 need the class count (classes >= 1)")
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
        r, where = _budget_row(td, budget, spec, classes)
        if r is None:
            continue
        w = int(r["width"])
        kept = (runs[model][w] / runs[model][full]).to_numpy()
        control, value = "", math.nan
        # Controls with no more parameters than the TD head they stand against.
        found = {
            m: (float(c["top1"]) / ref_top1, int(c["head_params"]))
            for m in CONTROLS
            if (c := _at_most(table_[table_["model"] == m], r["head_params"] + 0.5)) is not None
        }
        if found and not math.isnan(ref_top1):
            best = max(found, key=lambda m: found[m][0])
            value = found[best][0]
            control = f"{CONTROLS[best]}, {found[best][1]:,} parameters"
        rows.append(
            claim(
                f"{model}: top-1 kept at {where} (width {w}, {r['head_pct']:.1f}% of head), "
                f"relative to full width: >= {threshold}",
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
