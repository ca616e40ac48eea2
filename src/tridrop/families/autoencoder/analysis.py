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
  unit i's own contribution makes ``Dep`` asymmetric. But the asymmetry is only that
  normalisation: ``Dep[i, j] / Dep[j, i] = E ||c_j||^2 / E ||c_i||^2`` exactly, so a
  lower-triangular ``Dep`` restates that importance falls with the index (an autoencoder trained
  without TD, its units re-sorted by importance, has most of its ``Dep`` below the diagonal too).
- **Gating dependence** (:func:`gating_dependence`): a directional measure that is not a function
  of the units' sizes. It asks, for each pair, which unit's own effect the pair's interaction
  rescales (which unit the other switches on and off).

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


@torch.no_grad()
def gating_dependence(
    model: nn.Sequential, x: torch.Tensor, step: float = 0.5, max_elements: int = 2**25
) -> tuple[float, torch.Tensor]:
    """Directional dependence of the latent units over images ``x``: ``(share, split)``.

    Which unit of a pair gates the other. For units i and j, let ``z`` be an image's code with
    both set to zero (the pair removed, as in ``D({i, j})``) and ``a``, ``b`` steps on unit i and
    on unit j alone. With ``D(v)`` the decoding of ``z + v``, the four decodings ``D(+-a +-b)``
    give, per image, the pair's interaction ``X = (D(a+b) - D(a-b) - D(-a+b) + D(-a-b)) / 4``
    (about the decoder's mixed second derivative times both steps; symmetric in i and j) and
    each unit's own effect, ``J_i = (D(a+b) + D(a-b) - D(-a+b) - D(-a-b)) / 4`` and ``J_j``
    likewise. Then ``G[i, j] = E (X . J_i)^2 / ||J_i||^2`` (E: the mean over images) is the
    energy of the interaction along unit i's own effect, the part of it that is unit j turning
    unit i up or down, and

        ``split[i, j] = G[i, j] / (G[i, j] + G[j, i])``,  ``share = mean_{i > j} split[i, j]``.

    ``split[i, j] + split[j, i] = 1``; ``share`` is 0.5 when no unit of a pair gates the other
    more than the reverse and above 0.5 when later units are gated by earlier ones. A pair
    whose interaction is at the level of float rounding has no split (NaN) and is left out;
    with none left, ``share`` is 0.5.

    The steps are ``step`` standard deviations (over ``x``) of each unit's code, the larger of
    the pair's two shrunk so that both move the output by the same amount (measured at the full
    code). Each pair's split is unchanged when either unit's code is rescaled (its step and its
    effect scale together), each pair counts once, and the pair is absent from the point where
    the decoder is probed, so neither unit sets the nonlinearities' operating point: nothing in
    the share rewards importance that falls with the index. For a decoder
    ``f(c + sum_k s_k z_k v_k)`` that treats its units alike (random directions ``v_k``),
    whatever its scales ``s_k``, each split is 0.5 in expectation. Contrast
    :func:`importance_and_dependence`, whose ``Dep[i, j] / Dep[j, i]`` is the ratio of the
    units' contribution energies.

    It sees gating: an interaction along one unit's own effect. An interaction that reshapes
    unit i's effect pixel by pixel by unit j's output (``X ~ k * c_i * c_j`` elementwise, as when
    unit i draws only where the units before it drew) is symmetric to second order and reads as
    0.5, whichever unit was built on the other.

    Cost: ``2 W^2 + 1`` decoder passes per image, about four times
    :func:`importance_and_dependence`'s; ``max_elements`` bounds the decoded floats held at once.
    """
    encoder, td, decoder = split_at_latent(model.eval())
    width = td.width
    z = torch.cat([encoder(xs) for xs in x.split(1024)]).reshape(len(x), width)
    sd = step * z.std(0, correction=0)
    per_image = decoder(z[:1]).numel()
    chunk = max(1, max_elements // (per_image * 6 * width))
    dev = z.device

    def decode(codes: torch.Tensor) -> torch.Tensor:  # (K, n, W) -> (K, n, P)
        return decoder(codes.reshape(-1, width)).reshape(*codes.shape[:2], -1)

    # Each unit's effect at the full code, to match the steps of a pair.
    size = torch.zeros(width, dtype=torch.float64, device=dev)
    scale = torch.zeros((), dtype=torch.float64, device=dev)
    steps = torch.diag(sd)[:, None, :]
    for zs in z.split(chunk):
        size += (((decode(zs + steps) - decode(zs - steps)) / 2) ** 2).sum((1, 2)).double()
        scale += (decoder(zs) ** 2).sum().double()
    along = torch.zeros(width, width, dtype=torch.float64, device=dev)
    for zs in z.split(chunk):
        for i in range(width - 1):
            js = torch.arange(i + 1, width, device=dev)
            pairs = torch.arange(len(js), device=dev)
            keep = torch.ones(len(js), 1, width, device=dev)
            keep[:, 0, i] = 0
            keep[pairs, 0, js] = 0
            small = torch.minimum(size[i], size[js])
            a = torch.zeros(len(js), 1, width, device=dev)
            b = torch.zeros(len(js), 1, width, device=dev)
            a[:, 0, i] = sd[i] * _ratio(small, size[i]).to(sd.dtype)
            b[pairs, 0, js] = sd[js] * _ratio(small, size[js]).to(sd.dtype)
            base = keep * zs[None]  # (J, n, W): the pair removed
            pp, pm, mp, mm = (decode(base + u * a + v * b) for u, v in _SIGNS)
            # 4 X = (pp + mm) - (pm + mp); 4 J_i = u + v and 4 J_j = u - v with u = pp - mm,
            # v = pm - mp: the projections from five sums over pixels, no J held.
            inter, u, v = (pp + mm) - (pm + mp), pp - mm, pm - mp
            del pp, pm, mp, mm
            xu, xv = _dot(inter, u), _dot(inter, v)
            uu, vv, uv = _dot(u, u), _dot(v, v), _dot(u, v)
            along[i, js] += _along(xu + xv, uu + vv + 2 * uv).sum(1)
            along[js, i] += _along(xu - xv, uu + vv - 2 * uv).sum(1)
    mass = along + along.T
    # Float rounding leaves |X| of about eps * |D|: below that there is no interaction to split.
    floor = (16 * torch.finfo(z.dtype).eps) ** 2 * scale
    split = torch.where(mass > floor, along / mass.clamp_min(1e-300), float("nan"))
    split.fill_diagonal_(float("nan"))
    below = split[torch.ones_like(split, dtype=torch.bool).tril(-1)]
    below = below[~below.isnan()]
    share = float(below.mean()) if len(below) else 0.5
    return share, split.cpu()


_SIGNS = ((1, 1), (1, -1), (-1, 1), (-1, -1))


def _ratio(small: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """The factor that shrinks a step whose effect has energy ``size`` to energy ``small``."""
    return torch.where(size > 0, (small / size.clamp_min(1e-300)).sqrt(), 1.0)


def _dot(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Per pair and image, the sum over pixels of ``p * q``, in float64: ``(J, n)``."""
    return torch.einsum("knp,knp->kn", p, q).double()


def _along(dot: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
    """Per image, ``(X . J)^2 / ||J||^2`` (``X`` along ``J``, squared) from ``dot = 4 X . 4 J``
    and ``norm = ||4 J||^2``."""
    return torch.where(norm > 0, dot**2 / norm.clamp_min(1e-300), 0.0) / 16


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
    return imp, tidy_pairs(dependence, experiment, model, seed, "dependence")


def tidy_pairs(
    matrix: torch.Tensor, experiment: str, model: str, seed: int, metric: str
) -> pd.DataFrame:
    """Long-form rows of a (unit, removed) matrix, off the diagonal and without NaN (a pair
    with no value, e.g. gating at rounding level, has no row)."""
    width = len(matrix)
    units, removed = torch.meshgrid(torch.arange(width), torch.arange(width), indexing="ij")
    keep = (units != removed) & ~torch.isnan(matrix)
    return pd.DataFrame(
        {
            "experiment": experiment,
            "model": model,
            "seed": seed,
            "unit": units[keep].tolist(),
            "removed": removed[keep].tolist(),
            "metric": metric,
            "value": matrix[keep].tolist(),
        }
    )[DEPENDENCE_COLUMNS]


def resorted(dependence: pd.DataFrame, importance: pd.DataFrame, model: str) -> pd.DataFrame:
    """``model``'s dependence rows (every metric) with its units renumbered by decreasing
    importance, per seed, as model ``<model>_sorted``: a model with ordered importance and no
    TD, the control of the dependence claims."""
    out = []
    for seed, imp in importance[importance["model"] == model].groupby("seed"):
        by_unit = imp.set_index("unit")["value"].sort_values(ascending=False, kind="stable")
        rank = {u: r for r, u in enumerate(by_unit.index)}
        d = dependence[(dependence["model"] == model) & (dependence["seed"] == seed)].copy()
        d["unit"], d["removed"] = d["unit"].map(rank), d["removed"].map(rank)
        out.append(d.assign(model=f"{model}_sorted"))
    return pd.concat(out, ignore_index=True) if out else dependence.iloc[:0]


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
