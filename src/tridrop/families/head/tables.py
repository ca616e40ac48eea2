"""The head's accuracy against parameters: parameter counts per width, as fractions of the
full head and network, beside top-1 and top-5."""

from __future__ import annotations

import pandas as pd

METRICS = ("top1", "top5")  # the classifier heads' metrics
PROBE = "linear_probe"  # the linear probe's result rows (width 0: no hidden layer)


PARAM_COLUMNS = [
    "experiment",
    "model",
    "width",
    "head_params",
    "network_params",
    "head_fraction",
    "network_fraction",
]


def params_frame(
    experiment: str,
    model: str,
    widths: list[int],
    counts: list[int],
    full_head: int,
    backbone: int,
) -> pd.DataFrame:
    """Parameter counts per width, and their fractions of the full-width head and network."""
    counts = [int(c) for c in counts]
    return pd.DataFrame(
        {
            "experiment": experiment,
            "model": model,
            "width": list(widths),
            "head_params": counts,
            "network_params": [backbone + c for c in counts],
            "head_fraction": [c / full_head for c in counts],
            "network_fraction": [(backbone + c) / (backbone + full_head) for c in counts],
        }
    )[PARAM_COLUMNS]


# The accuracy table's columns (what the head's claims and figure read).
TABLE_COLUMNS = [
    "experiment",
    "model",
    "width",
    "head_params",
    "head_pct",
    "network_params",
    "network_pct",
    "top1",
    "top1_std",
    "top5",
    "top5_std",
    "seeds",
]


def accuracy_table(sweeps: pd.DataFrame, params: pd.DataFrame, experiment: str) -> pd.DataFrame:
    """The "compressed" table: width, head params, % of head, % of network, top-1, top-5.

    Accuracies are means (and standard deviations) over seeds, from the aggregated sweeps.
    """
    s = sweeps[(sweeps["experiment"] == experiment) & sweeps["metric"].isin(METRICS)]
    if s.empty:
        raise ValueError(f"no top1/top5 rows for experiment {experiment!r}")
    g = s.groupby(["model", "width", "metric"])["value"]
    stats = g.agg(mean="mean", std="std", seeds="count").reset_index()
    stats["std"] = stats["std"].fillna(0.0)
    wide = stats.pivot_table(
        index=["model", "width"], columns="metric", values=["mean", "std", "seeds"]
    )
    out = pd.DataFrame(index=wide.index)
    for m in METRICS:
        out[m] = wide[("mean", m)]
        out[f"{m}_std"] = wide[("std", m)]
    out["seeds"] = wide[("seeds", "top1")].astype(int)
    p = params[params["experiment"] == experiment].drop_duplicates(["model", "width"])
    table = p.merge(out.reset_index(), on=["model", "width"], how="inner")
    table["head_pct"] = 100 * table["head_fraction"]
    table["network_pct"] = 100 * table["network_fraction"]
    return table[TABLE_COLUMNS].sort_values(
        ["model", "head_params"], ascending=[True, False], ignore_index=True
    )
