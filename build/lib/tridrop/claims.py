"""The paper's claims, measured and checked: autoencoders (features ordered, dependence
asymmetric, MSE falling with width, gaps to baselines) and pruned classifier heads.

Each claim is one row: ``experiment, claim, metric, value, threshold, held``. The claim text
says the comparison (``<`` or ``<=`` or ``>``) between the measured value and the threshold.
Thresholds are pre-registered: their defaults and reasons are in :mod:`tridrop.specs`
(``AutoencoderClaims``, ``HeadClaims``); a preset may set them in the config before its run.
Means are over seeds; the figures read the same aggregated files.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from tridrop.analysis import lower_share
from tridrop.files import read_csv
from tridrop.specs import AutoencoderClaims, HeadClaims

COLUMNS = ["experiment", "claim", "metric", "value", "threshold", "held"]


def autoencoder_claims(
    sweeps: pd.DataFrame,
    importance: pd.DataFrame,
    dependence: pd.DataFrame,
    spec: AutoencoderClaims,
) -> pd.DataFrame:
    """Claim rows of one autoencoder experiment; model ``td`` is compared with the baselines."""
    experiment, td, notd = spec.experiment, spec.td, spec.notd
    mse = sweeps[(sweeps["experiment"] == experiment) & (sweeps["metric"] == "mse")]
    mean = mse.groupby(["model", "width"])["value"].mean()
    if td not in mean.index.get_level_values("model"):
        raise ValueError(f"no {td!r} rows for experiment {experiment!r}")
    td_mse = mean[td]
    full = int(td_mse.index.max())
    if full < 2:  # one unit: no order, no dependence, no trend (NaN or 0/0 otherwise)
        raise ValueError(
            f"experiment {experiment!r}: model {td!r} has a latent layer of {full} unit; the "
            "claims compare units and widths and need at least 2 (set latent >= 2)"
        )
    rows = []

    imp = importance[(importance["experiment"] == experiment) & (importance["model"] == td)]
    by_unit = imp.groupby("unit")["value"].mean()
    rho = float(spearmanr(by_unit.index, by_unit.to_numpy()).statistic)
    rows.append(
        (
            f"importance decreases with unit index ({td}): rho < {spec.importance_rho}",
            "spearman_rho_unit_importance",
            rho,
            spec.importance_rho,
            rho < spec.importance_rho,
        )
    )

    dep = dependence[(dependence["experiment"] == experiment) & (dependence["model"] == td)]
    share = lower_share(dep.groupby(["unit", "removed"], as_index=False)["value"].mean())
    rows.append(
        (
            f"dependence is mostly lower-triangular ({td}): share > {spec.lower_share}",
            "share_below_diagonal",
            share,
            spec.lower_share,
            share > spec.lower_share,
        )
    )

    rho = float(spearmanr(td_mse.index, td_mse.to_numpy()).statistic)
    rows.append(
        (
            f"test MSE decreases with width ({td}): rho < {spec.mse_rho}",
            "spearman_rho_width_mse",
            rho,
            spec.mse_rho,
            rho < spec.mse_rho,
        )
    )

    if "fixed" in mean.index.get_level_values("model"):
        for width, fixed in mean["fixed"].items():
            ratio = float(td_mse[width] / fixed)
            rows.append(
                (
                    f"{td} at width {width} vs an autoencoder trained at width {width}: "
                    f"MSE ratio <= {spec.fixed_ratio}",
                    f"mse_ratio_{td}_fixed_w{width}",
                    ratio,
                    spec.fixed_ratio,
                    ratio <= spec.fixed_ratio,
                )
            )

    if notd in mean.index.get_level_values("model"):
        ratio = float(td_mse[full] / mean[notd][full])
        rows.append(
            (
                f"full-width gap: {td} vs {notd} at width {full}: MSE ratio <= {spec.full_gap}",
                f"mse_ratio_{td}_{notd}_full",
                ratio,
                spec.full_gap,
                ratio <= spec.full_gap,
            )
        )
    rows += _gap_claims(mean, spec)
    out = pd.DataFrame(rows, columns=COLUMNS[1:])
    out.insert(0, "experiment", experiment)
    return out


def _gap_claims(mean: pd.Series, spec: AutoencoderClaims) -> list[tuple]:
    """TD against PCAAE at matched widths; whether some variant closes the full-width gap."""
    td, notd, rows = spec.td, spec.notd, []
    models = set(mean.index.get_level_values("model"))
    if "pcaae" in models:
        widths = sorted(set(mean["pcaae"].index) & set(mean[td].index))
        ratio = float(np.exp(np.mean([np.log(mean[td][w] / mean["pcaae"][w]) for w in widths])))
        rows.append(
            (
                f"{td} vs PCAAE at widths 1-{widths[-1]} (a decoder per width): geometric-mean "
                f"MSE ratio <= {spec.pcaae_ratio}",
                f"mse_ratio_{td}_pcaae_geomean",
                ratio,
                spec.pcaae_ratio,
                ratio <= spec.pcaae_ratio,
            )
        )
    if notd not in models or "fixed" not in models:
        return rows
    full = int(mean.index.get_level_values("width").max())
    fixed = mean["fixed"]
    scores = {}
    for m in sorted(models - {notd, "fixed", "pca", "pcaae"}):
        by = mean[m]
        if full not in by.index or not set(fixed.index) <= set(by.index):
            continue
        f = float(by[full] / mean[notd][full])
        worst = float(max(by[w] / fixed[w] for w in fixed.index))
        scores[m] = (max(f / spec.gap_full, worst / spec.gap_fixed), f, worst)
    if scores:
        best = min(scores, key=lambda m: scores[m][0])
        score, f, worst = scores[best]
        rows.append(
            (
                f"gap closed: some variant has full-width MSE <= {spec.gap_full}x {notd} and "
                f"<= {spec.gap_fixed}x the fixed-width autoencoders at every width (best: "
                f"{best}, {f:.3f}x and worst width {worst:.3f}x; value: the larger of the two "
                "over its bound, <= 1)",
                "gap_closed_score",
                score,
                1.0,
                score <= 1.0,
            )
        )
    return rows


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


def combine(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Concatenate per-experiment claim files into the preset's claims table."""
    frames = [read_csv(p, COLUMNS) for p in paths]
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
