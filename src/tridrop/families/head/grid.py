"""Widths per layer: a TD head's two hidden layers cut independently on a (w1, w2) grid, and
the Pareto front of parameters against top-1 over the grid (MatFormer-style mix-and-match),
against which the paper's tied cut (w1 = w2) is judged."""

from __future__ import annotations

import pandas as pd

from tridrop.families.head.models import head_params

GRID_COLUMNS = ["experiment", "model", "seed", "w1", "w2", "head_params", "head_pct", "top1"]


def grid_rows(
    top1, widths: list[int], experiment: str, model: str, seed: int, dims: tuple[int, int, int]
) -> pd.DataFrame:
    """Tidy rows of one head's grid: ``top1[i, j]`` at widths ``(widths[i], widths[j])``;
    ``dims``: input features, full width, classes (for the parameter counts)."""
    d, hidden, classes = dims
    full = head_params(d, hidden, hidden, classes)
    rows = [
        (
            experiment,
            model,
            seed,
            w1,
            w2,
            p := head_params(d, w1, w2, classes),
            100 * p / full,
            float(top1[i, j]),
        )
        for i, w1 in enumerate(widths)
        for j, w2 in enumerate(widths)
    ]
    return pd.DataFrame(rows, columns=GRID_COLUMNS)


def mean_grid(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean top-1 over seeds per (w1, w2), with whether the pair is on the Pareto front: no
    other pair has fewer parameters and at least its mean top-1, or as many and more."""
    keys = ["experiment", "model", "w1", "w2", "head_params", "head_pct"]
    g = rows.groupby(keys, as_index=False).agg(top1=("top1", "mean"), seeds=("seed", "nunique"))
    g = g.sort_values(["head_params", "top1"], ascending=[True, False], ignore_index=True)
    best = g["top1"].cummax().shift(fill_value=-1.0)  # the best top-1 with fewer parameters
    g["on_front"] = g["top1"] > best
    return g


def tied_on_front(grid: pd.DataFrame) -> tuple[int, int, float]:
    """How many tied pairs (w1 = w2) are on the front, of how many, and the largest top-1 a
    front pair with at most a tied pair's parameters gains over it."""
    tied = grid[grid["w1"] == grid["w2"]]
    front = grid[grid["on_front"]]
    gains = [
        float(front.loc[front["head_params"] <= t["head_params"], "top1"].max() - t["top1"])
        for _, t in tied.iterrows()
    ]
    return int(tied["on_front"].sum()), len(tied), max(gains, default=0.0)
