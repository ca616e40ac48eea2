"""The paper's claims about the variable-size autoencoder, measured and checked.

Each claim is one row: ``experiment, claim, metric, value, threshold, held``. The claim text
says the comparison (``<`` or ``<=`` or ``>``) between the measured value and the threshold.
Thresholds are fixed before looking at results and stated here:

- importance decreases with unit index: Spearman rho(unit, mean importance) < -0.8;
- dependence mostly lower-triangular: share of off-diagonal mass below the diagonal > 0.5
  (0.5 is a symmetric matrix);
- MSE decreases with width: Spearman rho(width, mean MSE) < -0.9;
- TD at width k vs an autoencoder trained at width k: MSE ratio <= 1.5, one row per k;
- the full-width gap to the same autoencoder without TD: MSE ratio <= 1.5.

Means are over seeds; the figures read the same aggregated files.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

from tridrop.features import lower_share

COLUMNS = ["experiment", "claim", "metric", "value", "threshold", "held"]
IMPORTANCE_RHO = -0.8
LOWER_SHARE = 0.5
MSE_RHO = -0.9
FIXED_RATIO = 1.5
FULL_GAP = 1.5


def autoencoder_claims(
    sweeps: pd.DataFrame,
    importance: pd.DataFrame,
    dependence: pd.DataFrame,
    experiment: str,
    td: str = "td",
    notd: str = "notd",
) -> pd.DataFrame:
    """Claim rows of one autoencoder experiment; model ``td`` is compared with the baselines."""
    mse = sweeps[(sweeps["experiment"] == experiment) & (sweeps["metric"] == "mse")]
    mean = mse.groupby(["model", "width"])["value"].mean()
    if td not in mean.index.get_level_values("model"):
        raise ValueError(f"no {td!r} rows for experiment {experiment!r}")
    td_mse = mean[td]
    full = int(td_mse.index.max())
    rows = []

    imp = importance[(importance["experiment"] == experiment) & (importance["model"] == td)]
    by_unit = imp.groupby("unit")["value"].mean()
    rho = float(spearmanr(by_unit.index, by_unit.to_numpy()).statistic)
    rows.append(
        (
            f"importance decreases with unit index ({td}): rho < {IMPORTANCE_RHO}",
            "spearman_rho_unit_importance",
            rho,
            IMPORTANCE_RHO,
            rho < IMPORTANCE_RHO,
        )
    )

    dep = dependence[(dependence["experiment"] == experiment) & (dependence["model"] == td)]
    share = lower_share(dep.groupby(["unit", "removed"], as_index=False)["value"].mean())
    rows.append(
        (
            f"dependence is mostly lower-triangular ({td}): share > {LOWER_SHARE}",
            "share_below_diagonal",
            share,
            LOWER_SHARE,
            share > LOWER_SHARE,
        )
    )

    rho = float(spearmanr(td_mse.index, td_mse.to_numpy()).statistic)
    rows.append(
        (
            f"test MSE decreases with width ({td}): rho < {MSE_RHO}",
            "spearman_rho_width_mse",
            rho,
            MSE_RHO,
            rho < MSE_RHO,
        )
    )

    if "fixed" in mean.index.get_level_values("model"):
        for width, fixed in mean["fixed"].items():
            ratio = float(td_mse[width] / fixed)
            rows.append((f"{td} at width {width} vs an autoencoder trained at width {width}: "
                         f"MSE ratio <= {FIXED_RATIO}", f"mse_ratio_{td}_fixed_w{width}", ratio,
                         FIXED_RATIO, ratio <= FIXED_RATIO))  # fmt: skip

    if notd in mean.index.get_level_values("model"):
        ratio = float(td_mse[full] / mean[notd][full])
        rows.append(
            (
                f"full-width gap: {td} vs {notd} at width {full}: MSE ratio <= {FULL_GAP}",
                f"mse_ratio_{td}_{notd}_full",
                ratio,
                FULL_GAP,
                ratio <= FULL_GAP,
            )
        )
    out = pd.DataFrame(rows, columns=COLUMNS[1:])
    out.insert(0, "experiment", experiment)
    return out


def combine(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Concatenate per-experiment claim files into the preset's claims table."""
    frames = [pd.read_csv(p) for p in paths]
    if not frames:
        raise ValueError("no claim files to combine")
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def tally(claims: pd.DataFrame) -> dict:
    """Claims held and tested, per experiment and in all (the headline for DVC metrics)."""
    held = claims["held"].astype(str).str.lower() == "true"
    out = {
        exp: {"held": int(h.sum()), "tested": len(h)}
        for exp, h in held.groupby(claims["experiment"])
    }
    out["all"] = {"held": int(held.sum()), "tested": len(held)}
    return out


def markdown(claims: pd.DataFrame) -> str:
    """The claims table as Markdown (for the README and the log)."""
    lines = ["| experiment | claim | value | threshold | held |", "|---|---|---|---|---|"]
    for r in claims.itertuples():
        held = "yes" if str(r.held).lower() == "true" else "**no**"
        lines.append(f"| {r.experiment} | {r.claim} | {r.value:.4g} | {r.threshold:g} | {held} |")
    return "\n".join(lines)
