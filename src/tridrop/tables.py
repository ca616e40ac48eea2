"""Tables of every family: per-run sweeps combined into tidy results, summaries and DVC metrics
(the head's accuracy-against-parameters table is in its wing)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from tridrop.evaluation import COLUMNS
from tridrop.files import read_csv


def combine(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Concatenate per-run sweep CSVs into one long-form frame in a stable order."""
    frames = [read_csv(p, COLUMNS) for p in paths]
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


def by_width(summary_df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean and std over seeds per model and width, one metric: what ``dvc plots show`` draws
    (one line per model, ``workflow/dvc_plot.json``), the same columns for every experiment."""
    sel = summary_df[summary_df["metric"] == metric]
    return sel[["model", "width", "mean", "std", "seeds"]].reset_index(drop=True)


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
