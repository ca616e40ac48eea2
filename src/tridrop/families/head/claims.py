"""The paper's "minimal impact" claims for a pruned classifier head, one row each (columns of
:data:`tridrop.claims.COLUMNS`); thresholds in :class:`~tridrop.families.head.specs.HeadClaims`."""

from __future__ import annotations

import pandas as pd

from tridrop.families.head.specs import HeadClaims


def head_claims(table: pd.DataFrame, spec: HeadClaims) -> pd.DataFrame:
    """Claims rows: top-1 kept at 25% and 10% of head parameters; the full-width gap.

    At each budget the widest swept TD width whose head has at most that share of the
    full-width head's parameters is used; the value is its top-1 over the full-width top-1.
    The gap is the reference (unconstrained network) top-1 minus the full-width TD top-1.
    """
    model, max_gap = spec.model, spec.max_gap
    td = table[table["model"] == model].sort_values("head_params")
    if td.empty:
        raise ValueError(f"no rows of model {model!r} in the table")
    exp = td["experiment"].iloc[0]
    full = td.iloc[-1]
    rows = []
    for budget, threshold in ((0.25, spec.kept_25), (0.10, spec.kept_10)):
        fits = td[td["head_pct"] <= 100 * budget + 1e-9]
        if fits.empty:
            continue
        r = fits.iloc[-1]
        rows.append(
            {
                "claim": f"{model}: top-1 kept at <= {budget:.0%} of head parameters (width "
                f"{int(r['width'])}, {r['head_pct']:.1f}% of head), relative to full width",
                "metric": "top1_ratio",
                "value": r["top1"] / full["top1"],
                "threshold": threshold,
                "held": bool(r["top1"] / full["top1"] >= threshold),
            }
        )
    ref = table[table["model"] == "reference"]
    if not ref.empty:
        gap = float(ref["top1"].iloc[0] - full["top1"])
        rows.append(
            {
                "claim": f"{model}: full-width top-1 gap to the unconstrained network (reference "
                "minus TD, at most the threshold)",
                "metric": "top1_gap",
                "value": gap,
                "threshold": max_gap,
                "held": bool(gap <= max_gap),
            }
        )
    out = pd.DataFrame(rows)
    out.insert(0, "experiment", exp)
    return out[["experiment", "claim", "metric", "value", "threshold", "held"]]
