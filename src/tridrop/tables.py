"""Aggregation of per-run sweeps into the tidy results file, summary tables and DVC metrics."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from tridrop.sweep import COLUMNS


def combine(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Concatenate per-run sweep CSVs into one long-form frame in a stable order."""
    frames = [pd.read_csv(p) for p in paths]
    if not frames:
        raise ValueError("no sweep files to combine")
    df = pd.concat(frames, ignore_index=True)[COLUMNS]
    return df.sort_values(["experiment", "model", "seed", "metric", "width"], ignore_index=True)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation and seed count of every metric per model and width."""
    g = df.groupby(["experiment", "metric", "model", "width"])["value"]
    out = g.agg(mean="mean", std="std", seeds="count").reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


def wide(summary_df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One column of means per model against width (the layout DVC's plots read)."""
    sel = summary_df[summary_df["metric"] == metric]
    return sel.pivot_table(index="width", columns="model", values="mean").reset_index()


def headline(summary_df: pd.DataFrame, widths: Iterable[int]) -> dict:
    """Metrics for ``dvc metrics show``: each model's mean metric at a few widths and at full."""
    out: dict = {}
    full = summary_df.groupby("experiment")["width"].max()
    for (exp, metric, model), g in summary_df.groupby(["experiment", "metric", "model"]):
        by_width = g.set_index("width")["mean"]
        picks = {f"w{w}": float(by_width[w]) for w in widths if w in by_width.index}
        if full[exp] in by_width.index:  # fixed-width baselines may stop short of full width
            picks["full"] = float(by_width[full[exp]])
        out.setdefault(exp, {}).setdefault(metric, {})[model] = picks
    return out
