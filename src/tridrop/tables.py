"""Tables of every family: per-run sweeps combined into tidy results, summaries and DVC metrics
(the head's accuracy-against-parameters table is in its wing)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from tridrop.evaluation import COLUMNS
from tridrop.files import read_csv

log = logging.getLogger(__name__)


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


def select_table(spec, models, load, chosen, check, metric: str, name: str) -> pd.DataFrame:
    """The select table of a family's runs: for each model file (``load``: path -> model) and
    tolerance, the width :func:`tridrop.select.select_width` picks on the batches ``chosen``,
    its ``metric`` there, and at that width and full width on the batches ``check``."""
    from tridrop.select import evaluate, select_width
    from tridrop.width import td_layers

    rows = []
    for path in models:
        net = load(path)
        full = td_layers(net)[0].width
        for tol in spec.tolerances:
            kw = {"confidence": spec.confidence, "widths": spec.widths}
            sel = select_width(net, chosen, metric, tol, **kw)
            log.info("%s, tolerance %g: %s", path, tol, sel.summary())
            width = sel.width or full
            at = {r["width"]: r["value"] for r in sel.table} | {full: sel.full}
            checked = [evaluate(net, check, w, metric) for w in (width, full)]
            seed = re.search(r"seed(\d+)", str(path))
            seed = int(seed.group(1)) if seed else 0
            rows.append(selected_row(spec, seed, sel, width, at[width], checked, name))
    return pd.DataFrame(rows)


def selected_row(spec, seed: int, sel, width: int, value: float, check: list[float], metric: str):
    """One row of a select table: the width chosen for run ``seed`` at one tolerance
    (``value``: its metric on the examples it was chosen on; ``check``: at that width and at
    full width on the others)."""
    return {
        "experiment": spec.experiment,
        "model": spec.model,
        "seed": seed,
        "metric": metric,
        "tolerance": sel.tolerance,
        "confidence": sel.confidence,
        "width": width,
        "narrower": sel.width is not None,  # else no width below full met the tolerance
        "value_select": value,
        "full_select": sel.full,
        "value_check": check[0],
        "full_check": check[1],
        "examples": sel.examples,
    }


def select_line(rows: pd.DataFrame, examples: str = "test images") -> str:
    """The width ``tridrop.select`` picks at each tolerance, and how it holds on unseen
    ``examples``."""
    names = {"top1": "top-1", "mse": "MSE", "return": "normalised return"}
    metric = names.get(rows["metric"].iloc[0], rows["metric"].iloc[0])
    parts = []
    for tol, g in rows.groupby("tolerance"):
        within = f"within {100 * tol:g}% of full width's {metric}"
        if not g["narrower"].any():
            parts.append(f"{within}: no width below full in any of {len(g)} seeds")
            continue
        lo, hi = int(g["width"].min()), int(g["width"].max())
        widths = f"width {lo}" if lo == hi else f"widths {lo}-{hi}"
        ratio = (g["value_check"] / g["full_check"]).mean()
        parts.append(
            f"{within}: {widths} over {len(g)} seeds ({int(g['narrower'].sum())} below full), "
            f"its {metric} {ratio:.3f}x full width's on the other {examples.split()[-1]}"
        )
    confidence = float(rows["confidence"].iloc[0])
    return (
        f"Choosing a width (`tridrop.select`, {100 * confidence:g}% confidence, chosen on "
        f"{int(rows['examples'].iloc[0]):,} {examples}, checked on the rest): "
        + "; ".join(parts)
        + "."
    )
