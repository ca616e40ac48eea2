"""Result rows of every family: a metric at each width of one trained model, long form.

Each family's evaluation (``tridrop.families.<family>.evaluation``) computes the values; these
helpers label them, so every sweep file has the columns :data:`COLUMNS`.
"""

from __future__ import annotations

import pandas as pd
import torch

COLUMNS = ["experiment", "model", "seed", "width", "metric", "value"]


def tidy(values: torch.Tensor, experiment: str, model: str, seed: int, metric: str) -> pd.DataFrame:
    """Long-form rows for ``values[w - 1]`` at widths ``1..len(values)``."""
    return pd.DataFrame(
        {
            "experiment": experiment,
            "model": model,
            "seed": seed,
            "width": range(1, len(values) + 1),
            "metric": metric,
            "value": values.tolist(),
        }
    )[COLUMNS]


def tidy_at(
    values: list[float], widths: list[int], experiment: str, model: str, seed: int, metric: str
) -> pd.DataFrame:
    """Long-form rows for ``values[i]`` at ``widths[i]`` (widths need not be ``1..W``)."""
    return pd.DataFrame(
        {
            "experiment": experiment,
            "model": model,
            "seed": seed,
            "width": list(widths),
            "metric": metric,
            "value": list(values),
        }
    )[COLUMNS]
