"""From per-episode returns to the task-complexity table, the return curves and the claims.

Returns are normalised per environment: ``(R - R_random) / (R_expert - R_random)``, 0 for a
uniformly random policy and 1 for the expert, both measured on the same evaluation episodes
(the same start states) as every student. ``R / R_expert`` would not do: Acrobot's and
Pendulum's returns are negative.

A model's *smallest width reaching a level* is the first swept width whose mean normalised
return (over seeds and episodes) reaches ``level`` times the **reference**: the full-width
return of the student trained without TD (``notd``), one level for every model of an
experiment. On the normalised scale that is ``level`` of the way from a random policy to the
reference (meaningless if the reference is no better than random: a warning says so).
Intervals are percentile bootstraps: seeds are resampled, then episodes within each (seed,
width); a width never reached is infinite.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from tridrop import claims as shared
from tridrop.families.policy.specs import PolicyClaims

log = logging.getLogger(__name__)
EPISODE_COLUMNS = ["experiment", "model", "seed", "width", "episode", "return", "normalised"]
TABLE_COLUMNS = [
    "experiment",
    "model",
    "level",
    "width",
    "low",
    "high",
    "reference",
    "seeds",
    "episodes",
]
CURVE_COLUMNS = ["experiment", "model", "width", "mean", "low", "high", "seeds", "episodes"]
IQM_COLUMNS = ["model", "width", "iqm", "low", "high", "mean", "environments", "runs"]
REFERENCE = "notd"
QUANTILES = ((1 - shared.LEVEL) / 2, (1 + shared.LEVEL) / 2)


def normalise(returns, expert: float, random: float) -> np.ndarray:
    """``(R - R_random) / (R_expert - R_random)``; an expert no better than random is refused."""
    if not expert > random:
        raise ValueError(
            f"the expert's return ({expert:.4g}) is not above a random policy's ({random:.4g}): "
            "nothing to normalise by; train the expert longer (timesteps)"
        )
    return (np.asarray(returns, dtype=float) - random) / (expert - random)


def smallest_width(widths, means, level: float) -> float:
    """The first of ``widths`` (ascending) whose mean reaches ``level``; inf if none does."""
    for w, m in sorted(zip(widths, means, strict=True)):
        if m >= level:
            return float(w)
    return math.inf


def cube(rows: pd.DataFrame, model: str) -> tuple[list[int], np.ndarray]:
    """A model's normalised returns as (widths, array seeds x widths x episodes)."""
    r = rows[rows["model"] == model]
    if r.empty:
        raise ValueError(f"no episodes of model {model!r} (has {sorted(set(rows['model']))})")
    widths = sorted(int(w) for w in set(r["width"]))
    seeds = sorted(set(r["seed"]))
    counts = r.groupby(["seed", "width"]).size()
    if len(counts) != len(seeds) * len(widths) or counts.nunique() != 1:
        raise ValueError(
            f"model {model!r}: episodes missing (every seed needs the same episodes at every "
            f"width; found {counts.to_dict()})"
        )
    r = r.sort_values(["seed", "width", "episode"])
    arr = r["normalised"].to_numpy(float).reshape(len(seeds), len(widths), int(counts.iloc[0]))
    return widths, arr


def resampled_runs(arr: np.ndarray, boot: int, rng: np.random.Generator) -> np.ndarray:
    """``boot`` resamples of the runs (boot x seeds x widths): seeds drawn with replacement,
    then episodes within each drawn seed and width, averaged per run."""
    s, w, e = arr.shape
    seeds = rng.integers(0, s, (boot, s))
    episodes = rng.integers(0, e, (boot, s, w, e))
    picked = arr[seeds[:, :, None, None], np.arange(w)[None, None, :, None], episodes]
    return picked.mean(axis=3)


def resampled_means(arr: np.ndarray, boot: int, rng: np.random.Generator) -> np.ndarray:
    """``boot`` bootstrap means per width (boot x widths): seeds, then episodes, resampled."""
    return resampled_runs(arr, boot, rng).mean(axis=1)


def interval(reps: np.ndarray) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (values may be infinite; none NaN)."""
    reps = np.asarray(reps, dtype=float)
    if np.isnan(reps).any():
        return math.nan, math.nan
    low, high = np.quantile(reps, QUANTILES, method="inverted_cdf")
    return float(low), float(high)


class Widths:
    """Smallest widths reaching a level, with bootstrap replicates, for one experiment."""

    def __init__(self, rows: pd.DataFrame, boot: int, seed: int = 0) -> None:
        self.rows, self.boot = rows, boot
        self.rng = np.random.default_rng(seed)
        _, ref = cube(rows, REFERENCE)
        self.reference = float(ref[:, -1].mean())
        if self.reference <= 0:
            log.warning(
                "the no-TD student's full-width return (%.3g, normalised) is no better than a "
                "random policy's: the levels measured against it say nothing",
                self.reference,
            )
        self.reference_reps = resampled_means(ref[:, -1:], boot, self.rng)[:, 0]
        self._cubes: dict[str, tuple[list[int], np.ndarray, np.ndarray]] = {}

    def _cube(self, model: str):
        if model not in self._cubes:
            widths, arr = cube(self.rows, model)
            self._cubes[model] = (widths, arr, resampled_means(arr, self.boot, self.rng))
        return self._cubes[model]

    def shape(self, model: str) -> tuple[int, ...]:
        return self._cube(model)[1].shape

    def at(self, model: str, width: int) -> tuple[float, np.ndarray]:
        """Mean normalised return at ``width`` and its replicates."""
        widths, arr, reps = self._cube(model)
        if width not in widths:
            raise ValueError(f"model {model!r} was not swept at width {width} (has {widths})")
        i = widths.index(width)
        return float(arr[:, i].mean()), reps[:, i]

    def smallest(self, model: str, level: float) -> tuple[float, np.ndarray]:
        """The smallest width reaching ``level`` x reference, and its replicates."""
        widths, arr, reps = self._cube(model)
        value = smallest_width(widths, arr.mean(axis=(0, 2)), level * self.reference)
        found = np.array(
            [
                smallest_width(widths, m, level * r)
                for m, r in zip(reps, self.reference_reps, strict=True)
            ]
        )
        return value, found


def models_by_width(rows: pd.DataFrame) -> list[str]:
    """The models of the table: all but the reference (TD and its relatives, the students
    trained at fixed widths, the cuts), TD first."""
    from tridrop.figures import ordered

    return ordered(set(rows["model"]) - {REFERENCE})


def complexity_table(
    rows: pd.DataFrame, experiment: str, levels, boot: int, seed: int = 0
) -> pd.DataFrame:
    """Per model and level: the smallest width reaching it, with its bootstrap interval."""
    found = Widths(rows, boot, seed)
    out = []
    for model in models_by_width(rows):
        s, _, e = found.shape(model)
        for level in levels:
            value, reps = found.smallest(model, level)
            low, high = interval(reps)
            out.append([experiment, model, level, value, low, high, found.reference, s, e])
    return pd.DataFrame(out, columns=TABLE_COLUMNS)


def curves(rows: pd.DataFrame, experiment: str, boot: int, seed: int = 0) -> pd.DataFrame:
    """Mean normalised return per model and width, with bootstrap intervals (the figure)."""
    rng = np.random.default_rng(seed)
    out = []
    for model in sorted(set(rows["model"])):
        widths, arr = cube(rows, model)
        reps = resampled_means(arr, boot, rng)
        for i, w in enumerate(widths):
            low, high = interval(reps[:, i])
            out.append([experiment, model, w, float(arr[:, i].mean()), low, high, *arr.shape[::2]])
    return pd.DataFrame(out, columns=CURVE_COLUMNS)


def iqm(scores) -> np.ndarray:
    """Interquartile mean over the last axis: the mean of the scores left when the lowest and
    the highest quarter (rounded down) are cut, as rliable computes it (``trim_mean`` at 0.25);
    robust to one seed that failed and to one that did very well."""
    from scipy.stats import trim_mean

    return trim_mean(np.asarray(scores, dtype=float), 0.25, axis=-1)


def aggregate(rows: pd.DataFrame, boot: int, seed: int = 0) -> pd.DataFrame:
    """Per model and width, the IQM of the normalised return over every environment's runs
    (a run: one seed's mean over its evaluation episodes), with a stratified bootstrap
    interval (rliable's): within each environment seeds are resampled, then episodes within
    each, so every replicate keeps each environment's share of the runs.

    A model is aggregated over the environments that have it, at the widths all of them swept.
    """
    rng = np.random.default_rng(seed)
    out = []
    for model in sorted(set(rows["model"])):
        have = rows[rows["model"] == model]
        cubes = [cube(g, model) for _, g in have.groupby("experiment", sort=True)]
        widths = sorted(set.intersection(*(set(w) for w, _ in cubes)))
        if not widths:
            log.warning("model %s: no width swept in every environment; not aggregated", model)
            continue
        arrays = [arr[:, [w.index(x) for x in widths]] for w, arr in cubes]
        runs = np.concatenate([a.mean(axis=2) for a in arrays])  # runs x widths
        reps = np.concatenate([resampled_runs(a, boot, rng) for a in arrays], axis=1)
        centre, spread, mean = iqm(runs.T), iqm(reps.transpose(0, 2, 1)), runs.mean(axis=0)
        for i, w in enumerate(widths):
            low, high = interval(spread[:, i])
            out.append([model, w, centre[i], low, high, mean[i], len(cubes), len(runs)])
    return pd.DataFrame(out, columns=IQM_COLUMNS)


def _row(text, value, reps, threshold, op, seeds, control="", control_value=math.nan) -> dict:
    """One claim row: ``value`` (its bootstrap replicates ``reps``) ``op`` ``threshold``."""
    low, high = interval(reps)
    return {
        "claim": text,
        "metric": "return",
        "value": value,
        "low": low,
        "high": high,
        "seeds": seeds,
        "control": control,
        "control_value": control_value,
        "threshold": threshold,
        "verdict": shared.verdict(low, high, value, threshold, op, control_value),
    }


def policy_claims(
    rows: pd.DataFrame, experiment: str, width: int, cfg: PolicyClaims, boot: int, seed: int = 0
) -> pd.DataFrame:
    """The pre-registered claims (:class:`~tridrop.families.policy.specs.PolicyClaims`), each
    against a control that should fail it, intervals bootstrapped over seeds and episodes."""
    found = Widths(rows, boot, seed)
    models = set(rows["model"])
    m, pct = cfg.model, f"{cfg.level:.0%}"
    seeds = found.shape(m)[0]
    td, td_reps = found.smallest(m, cfg.level)
    out = []
    if "fixed" in models:
        fixed, fixed_reps = found.smallest("fixed", cfg.level)
        control = "notd_sorted" if "notd_sorted" in models else ""
        cv = found.smallest(control, cfg.level)[0] / fixed if control else math.nan
        with np.errstate(invalid="ignore"):
            # A resample where neither reaches the level has no ratio: it counts against the
            # claim (as infinite), never dropped.
            ratio_reps = td_reps / fixed_reps
            ratio_reps[np.isnan(ratio_reps)] = math.inf
            out.append(
                _row(
                    f"{m}'s smallest width reaching {pct} of the full-width return is within "
                    f"{cfg.fixed_ratio:g}x of the students trained at one width",
                    td / fixed,
                    ratio_reps,
                    cfg.fixed_ratio,
                    "<=",
                    seeds,
                    control,
                    cv,
                )
            )
    control = "notd_cut" if "notd_cut" in models else ""
    cv = found.smallest(control, cfg.level)[0] / width if control else math.nan
    out.append(
        _row(
            f"{m}'s smallest width reaching {pct} of the full-width return is at most "
            f"{cfg.half:g} of full width",
            td / width,
            td_reps / width,
            cfg.half,
            "<=",
            seeds,
            control,
            cv,
        )
    )
    value, reps = found.at(m, width)
    out.append(
        _row(
            f"{m} at full width keeps at least {cfg.full:g} of the expert's normalised return",
            value,
            reps,
            cfg.full,
            ">=",
            seeds,
        )
    )
    return shared.table(experiment, out)
