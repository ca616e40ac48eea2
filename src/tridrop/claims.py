"""The claims table across families: one row per claim, a contrast with a control.

A claim is measured per seed (seeds share their initialisation across variants, so a ratio of
two models is paired by seed), summarised by its mean with a 95% confidence interval, and
compared with a pre-registered threshold. The same statistic is measured for a named
**control**: a model that should not pass (the network trained without TD, its best
training-free cut, PCA, a training-free SVD). The verdict is one of :data:`VERDICTS`:

- ``held``: the whole interval passes the threshold and the control does not;
- ``failed``: the whole interval fails it;
- ``inconclusive``: the interval straddles it (or one seed gives no interval);
- ``not discriminating``: the model passes, but so does the control: the test is too easy to
  tell the method from its control.

Only ``held`` counts as held. Each family's wing measures its own claims
(``tridrop.families.<family>.claims``) with :func:`claim`; thresholds are pre-registered in its
``specs`` module, each with its reason.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tridrop.files import read_csv

COLUMNS = [
    "experiment",
    "claim",
    "metric",
    "value",
    "low",
    "high",
    "seeds",
    "control",
    "control_value",
    "threshold",
    "verdict",
]
VERDICTS = ("held", "failed", "inconclusive", "not discriminating")
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
LEVEL = 0.95
VERDICT_NOTE = (
    "Each claim is measured per seed (mean and 95% t-interval over seeds, ratios paired by seed)"
    " and set against a control that should fail it: *held* means the whole interval passes and"
    " the control does not; *inconclusive*, the interval straddles the threshold; *not"
    " discriminating*, the control passes too."
)


def per_seed(rows: pd.DataFrame, columns: str = "width") -> dict[str, pd.DataFrame]:
    """Each model's values in tidy ``rows`` as a (seed x ``columns``) table."""
    return {
        m: g.pivot(index="seed", columns=columns, values="value") for m, g in rows.groupby("model")
    }


def interval(values: Sequence[float], log: bool = False) -> tuple[float, float, float]:
    """Mean and 95% t-interval of per-seed ``values`` (a ratio: ``log``, the geometric mean
    and an interval symmetric in log space). One value gives no interval (NaN bounds)."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0 or not np.isfinite(v).all() or (log and (v <= 0).any()):
        raise ValueError(f"a claim needs finite{' positive' if log else ''} values, got {v}")
    x = np.log(v) if log else v
    mean = float(x.mean())
    if len(x) < 2:
        low = high = math.nan
    else:
        from scipy import stats  # here: every job imports this module, few need scipy

        half = float(stats.t.ppf(0.5 + LEVEL / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
        low, high = mean - half, mean + half
    if log:
        return math.exp(mean), math.exp(low), math.exp(high)
    return mean, low, high


def verdict(
    low: float, high: float, value: float, threshold: float, op: str, control: float = math.nan
) -> str:
    """The verdict of a claim ``value op threshold`` (module docstring)."""
    passes = OPS[op]
    if math.isnan(low) or passes(low, threshold) != passes(high, threshold):
        return "inconclusive"
    if not passes(value, threshold):
        return "failed"
    if not math.isnan(control) and passes(control, threshold):
        return "not discriminating"
    return "held"


def claim(
    text: str,
    metric: str,
    per_seed: Sequence[float],
    threshold: float,
    op: str,
    control: str = "",
    control_value: float = math.nan,
    log: bool = False,
) -> dict:
    """One claim row (without its experiment): ``per_seed`` statistic of the model under test,
    its ``threshold`` and comparison ``op``, and the ``control``'s value of the same statistic."""
    value, low, high = interval(per_seed, log)
    return {
        "claim": text,
        "metric": metric,
        "value": value,
        "low": low,
        "high": high,
        "seeds": len(per_seed),
        "control": control,
        "control_value": control_value,
        "threshold": threshold,
        "verdict": verdict(low, high, value, threshold, op, control_value),
    }


def table(experiment: str, rows: Iterable[dict]) -> pd.DataFrame:
    """Claim rows of one experiment in :data:`COLUMNS` order."""
    out = pd.DataFrame(list(rows), columns=COLUMNS[1:])
    out.insert(0, "experiment", experiment)
    return out


def combine(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Concatenate per-experiment claim files into the preset's claims table."""
    frames = [read_csv(p, COLUMNS) for p in paths]
    if not frames:
        raise ValueError("no claim files to combine")
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def tally(claims: pd.DataFrame) -> dict:
    """Claims per verdict, per experiment and in all (the headline, and DVC metrics)."""

    def count(v: pd.Series) -> dict:
        return {"tested": len(v), **{k: int((v == k).sum()) for k in VERDICTS}}

    out = {exp: count(v) for exp, v in claims.groupby("experiment")["verdict"]}
    out["all"] = count(claims["verdict"])
    return out


def headline(claims: pd.DataFrame) -> str:
    """One sentence: how many claims earned each verdict (only ``held`` counts as held)."""
    t = tally(claims)["all"]
    parts = [f"{t[k]} {k}" for k in VERDICTS]
    return f"{t['tested']} claims tested: " + ", ".join(parts) + "."


def _number(x: float) -> str:
    return "" if isinstance(x, float) and math.isnan(x) else f"{x:.4g}"


def markdown(claims: pd.DataFrame) -> str:
    """The claims table as Markdown (for the README and the log)."""
    lines = [
        "| experiment | claim | value [95% interval] | control: value | threshold | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in claims.itertuples():
        ci = f" [{_number(r.low)}, {_number(r.high)}]"
        if math.isnan(r.low):
            ci = " (1 seed)" if r.seeds == 1 else " (no interval)"
        named = str(r.control) not in ("", "nan")
        control = f"{r.control}: {_number(r.control_value)}" if named else ""
        verdict = r.verdict if r.verdict == "held" else f"**{r.verdict}**"
        lines.append(
            f"| {r.experiment} | {r.claim} | {_number(r.value)}{ci} | {control} "
            f"| {r.threshold:g} | {verdict} |"
        )
    return "\n".join(lines)
