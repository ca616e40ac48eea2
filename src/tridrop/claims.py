"""The claims table across families: one row per claim of the paper, measured and checked.

Each claim is one row: ``experiment, claim, metric, value, threshold, held``. The claim text
says the comparison (``<`` or ``<=`` or ``>``) between the measured value and the threshold.
Each family's wing measures its own claims (``tridrop.families.<family>.claims``); their
thresholds are pre-registered in its ``specs`` module, and a preset may set them in the config
before its run. Means are over seeds; the figures read the same aggregated files.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from tridrop.files import read_csv

COLUMNS = ["experiment", "claim", "metric", "value", "threshold", "held"]


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
