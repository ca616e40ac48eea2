"""Feature importance and feature dependence of an autoencoder's latent units.

Let ``D(S)`` be the decoder's reconstruction of a test image from its latent code with the
units in ``S`` removed (set to zero, exactly what narrowing or the TD mask does).

- **Importance** of unit k: the increase of test MSE per pixel when unit k alone is removed,
  ``I_k = mse(D({k})) - mse(D({}))``. TD should make it decrease with k.
- **Contribution** of unit i: ``c_i = D({}) - D({i})``, what unit i adds to the output.
- **Dependence** of unit i on unit j (i != j): the share of unit i's contribution that changes
  when unit j is removed, ``Dep[i, j] = E ||c_i^(-j) - c_i||^2 / E ||c_i||^2`` with
  ``c_i^(-j) = D({j}) - D({i, j})`` and E the mean over test images. The numerator is the
  interaction ``D({}) - D({i}) - D({j}) + D({i, j})``, symmetric in i and j; the normalisation by
  unit i's own contribution makes ``Dep`` asymmetric. TD should put its mass below the diagonal
  (i > j: later units depend on earlier ones, earlier units barely on later ones).

**Order at the top** (:func:`order_at_the_top`), on the same images, for the first
``k = min(8, W)`` units: measures that can fail where a rank correlation over all W units
hides what happens at the top.

- ``prefix_optimality`` at width w (1..k): ``mse(first w units) / mse(best w-subset)``, both
  zero-filled (the way TD cuts), the best subset found by greedy forward selection
  (:func:`~tridrop.families.autoencoder.evaluation.greedy_order`): 1 when the prefix is the
  greedy choice, above 1 when other units would serve better (greedy is not exhaustive, so a
  prefix may also beat it: below 1);
- ``adjacent_ordered`` (at width k): the share of adjacent pairs ``i < k - 1`` with
  ``I_i > I_{i+1}``, 1 for importance strictly decreasing over the first k units.

The reordered control ``<model>_sorted`` (written for no TD): the same model with its units
re-sorted by decreasing importance, the training-free reordering by that score.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from tridrop.evaluation import COLUMNS
from tridrop.families.autoencoder.evaluation import greedy_order, ordered_mse
from tridrop.families.autoencoder.models import split_at_latent

IMPORTANCE_COLUMNS = ["experiment", "model", "seed", "unit", "metric", "value"]
DEPENDENCE_COLUMNS = ["experiment", "model", "seed", "unit", "removed", "metric", "value"]
ORDER_COLUMNS = COLUMNS
# The top of the order: widths 1..TOP (or 1..W, if W is smaller).
TOP = 8


@torch.no_grad()
def importance_and_dependence(
    model: nn.Sequential, x: torch.Tensor, max_elements: int = 2**25
) -> tuple[torch.Tensor, torch.Tensor]:
    """Importance ``(W,)`` and dependence ``(W, W)`` (diagonal NaN) over images ``x``.

    ``max_elements`` bounds the decoded floats held at once (images are processed in chunks).
    """
    encoder, td, decoder = split_at_latent(model.eval())
    width = td.width
    per_image = x[0].numel()
    chunk = max(1, max_elements // (per_image * 3 * (width + 1)))
    eye = torch.eye(width, device=x.device)
    mse_full = torch.zeros((), dtype=torch.float64, device=x.device)
    mse_without = torch.zeros(width, dtype=torch.float64, device=x.device)
    contrib = torch.zeros(width, dtype=torch.float64, device=x.device)
    interact = torch.zeros(width, width, dtype=torch.float64, device=x.device)
    for xs in x.split(chunk):
        n = len(xs)
        z = encoder(xs)  # (n, W)
        target = xs.reshape(n, -1)
        full = decoder(z).reshape(n, -1)
        # Row i of `without` removes unit i: shape (W, n, P).
        without = decoder(((1 - eye)[:, None, :] * z[None]).reshape(-1, width)).reshape(
            width, n, -1
        )
        mse_full += ((full - target) ** 2).mean(1).sum().double()
        mse_without += ((without - target[None]) ** 2).mean(2).sum(1).double()
        c = full[None] - without  # contributions c_i, (W, n, P)
        contrib += (c**2).sum((1, 2)).double()
        for i in range(width - 1):
            js = torch.arange(i + 1, width, device=x.device)
            keep = torch.ones(len(js), width, device=x.device)
            keep[:, i] = 0
            keep[torch.arange(len(js)), js] = 0
            both = decoder((keep[:, None, :] * z[None]).reshape(-1, width)).reshape(len(js), n, -1)
            # c_i^(-j) - c_i = (D({j}) - D({i, j})) - (D({}) - D({i}))
            delta = (without[js] - both) - c[i][None]
            sq = (delta**2).sum((1, 2)).double()
            interact[i, js] += sq
            interact[js, i] += sq
    importance = (mse_without - mse_full) / len(x)
    dependence = interact / contrib[:, None].clamp_min(1e-30)
    dependence.fill_diagonal_(float("nan"))
    return importance.cpu(), dependence.cpu()


def lower_share(dependence: torch.Tensor | pd.DataFrame) -> float:
    """Share of the off-diagonal dependence mass below the diagonal (unit > removed)."""
    if isinstance(dependence, pd.DataFrame):
        below = dependence.loc[dependence["unit"] > dependence["removed"], "value"].sum()
        off = dependence.loc[dependence["unit"] != dependence["removed"], "value"].sum()
        return float(below / off)
    d = torch.nan_to_num(dependence.double(), nan=0.0)
    return float(torch.tril(d, -1).sum() / d.sum())


def tidy_features(
    importance: torch.Tensor, dependence: torch.Tensor, experiment: str, model: str, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long-form rows: importance per unit (0-based), dependence per (unit, removed) pair."""
    width = len(importance)
    imp = pd.DataFrame(
        {
            "experiment": experiment,
            "model": model,
            "seed": seed,
            "unit": range(width),
            "metric": "importance",
            "value": importance.tolist(),
        }
    )[IMPORTANCE_COLUMNS]
    units, removed = torch.meshgrid(torch.arange(width), torch.arange(width), indexing="ij")
    off = units != removed
    dep = pd.DataFrame(
        {
            "experiment": experiment,
            "model": model,
            "seed": seed,
            "unit": units[off].tolist(),
            "removed": removed[off].tolist(),
            "metric": "dependence",
            "value": dependence[off].tolist(),
        }
    )[DEPENDENCE_COLUMNS]
    return imp, dep


def adjacent_ordered(importance: torch.Tensor, top: int = TOP) -> float:
    """Share of adjacent pairs among the first ``min(top, W)`` units whose importance strictly
    decreases (``I_i > I_{i+1}``); NaN for fewer than two units."""
    k = min(top, len(importance))
    if k < 2:
        return float("nan")
    head = importance[:k]
    return float((head[:-1] > head[1:]).double().mean())


@torch.no_grad()
def order_at_the_top(
    model: nn.Sequential,
    x: torch.Tensor,
    importance: torch.Tensor,
    top: int = TOP,
    reordered: bool = False,
) -> dict[str, tuple[torch.Tensor, float]]:
    """Prefix optimality ratios ``(k,)`` and ``adjacent_ordered`` of ``model`` over images
    ``x`` (``importance``: measured on them), ``k = min(top, W)``.

    Keyed ``""`` for the model as it is and, with ``reordered``, ``"sorted"`` for its units
    re-sorted by decreasing ``importance`` (the same greedy best subsets serve both).
    """
    width = split_at_latent(model)[1].width
    k = min(top, width)
    _, best = greedy_order(model, x, steps=k)
    prefix = ordered_mse(model, x, list(range(width)), widths=k).double()
    out = {"": (prefix / best, adjacent_ordered(importance, k))}
    if reordered:
        order = torch.argsort(importance, descending=True, stable=True)
        ranked = ordered_mse(model, x, order, widths=k).double()
        out["sorted"] = (ranked / best, adjacent_ordered(importance[order], k))
    return out


def tidy_order(
    ratio: torch.Tensor, adjacent: float, experiment: str, model: str, seed: int
) -> pd.DataFrame:
    """Rows of :data:`ORDER_COLUMNS`: ``prefix_optimality`` at widths ``1..k``,
    ``adjacent_ordered`` at width k."""
    k = len(ratio)
    return pd.DataFrame(
        {
            "experiment": experiment,
            "model": model,
            "seed": seed,
            "width": [*range(1, k + 1), k],
            "metric": ["prefix_optimality"] * k + ["adjacent_ordered"],
            "value": [*ratio.tolist(), adjacent],
        }
    )[ORDER_COLUMNS]
