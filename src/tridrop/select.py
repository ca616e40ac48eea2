"""Choose a width: the smallest width whose metric stays within a tolerance of the full
width's, with a stated confidence.

Every validation example is scored at full width and at each candidate width (the same
examples, so the comparison is paired). The drop at a width is the mean over examples of
(full-width score - its score), oriented so that positive is worse; a width *meets* the
tolerance when an upper confidence bound on its drop is at most the tolerance (absolute, or
relative: a share of the full width's measured metric). Bounds:

- ``binomial`` (accuracy): exact and conservative, from the shares of examples lost (right at
  full width, wrong at w) and gained (the reverse), each a binomial count;
- ``bootstrap`` (any per-example metric): the percentile bound of the mean drop over examples
  resampled with a fixed seed.

Widths are tested from the widest down and the search stops at the first that fails: a
fixed-sequence test, so the chance that the chosen width is worse than the tolerance stays at
most 1 - ``confidence`` however many widths are tested. With several TD layers the widths are
tied by default; ``per_layer=True`` tests every combination (Bonferroni-corrected, as there is
no natural order) and picks the cheapest that meets. Torch only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from tridrop.width import set_width, td_layers

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Selection:
    """The chosen width (``None``: not even the widest candidate below full meets) and the
    per-width table it came from (one dict per width tested, widest first)."""

    width: int | tuple[int, ...] | None
    metric: str
    full: float  # the metric at full width on the validation data
    tolerance: float
    relative: bool
    confidence: float
    method: str
    examples: int
    table: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        """One line: which width, at what tolerance and confidence."""
        tol = f"{100 * self.tolerance:g}% of" if self.relative else f"{self.tolerance:g} below"
        chosen = "no width below full" if self.width is None else f"width {self.width}"
        return (
            f"{chosen}: {self.metric} within {tol} full width's {self.full:.4g} with "
            f"{100 * self.confidence:g}% confidence ({self.method} bound, {self.examples} examples)"
        )


def accuracy(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 where the top class is the target, per example."""
    return (output.argmax(-1) == target).double()


def mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per example (an autoencoder: the target is the input)."""
    return ((output.double() - target.double()) ** 2).flatten(1).mean(1)


METRICS: dict[str, tuple[Metric, bool]] = {"accuracy": (accuracy, True), "mse": (mse, False)}


def select_width(
    model: nn.Module,
    data: Iterable[tuple[torch.Tensor, torch.Tensor | None]],
    metric: str | Metric = "accuracy",
    tolerance: float = 0.01,
    *,
    relative: bool = True,
    confidence: float = 0.95,
    widths: Sequence[int] | None = None,
    higher_is_better: bool | None = None,
    method: str | None = None,
    per_layer: bool = False,
    cost: Callable[[tuple[int, ...]], float] | None = None,
    resamples: int = 2000,
    seed: int = 0,
) -> Selection:
    """The smallest width of ``model``'s TD layers whose ``metric`` on ``data`` stays within
    ``tolerance`` of full width with ``confidence``.

    ``data``: batches ``(x, y)``; ``y`` None scores the output against ``x`` (an autoencoder).
    ``metric``: "accuracy", "mse" or ``f(output, target)`` giving one score per example (then
    say ``higher_is_better``). ``widths``: candidates (default every width of the narrowest TD
    layer). ``method``: "binomial" (accuracy's default) or "bootstrap". ``cost``: what
    ``per_layer`` minimises over width tuples (default: units kept in all layers).
    """
    score, higher, name = _metric(metric, higher_is_better)
    method = method or ("binomial" if name == "accuracy" else "bootstrap")
    if method not in ("binomial", "bootstrap"):
        raise ValueError(f"method must be binomial or bootstrap, got {method!r}")
    if method == "binomial" and name != "accuracy":
        raise ValueError("the binomial bound is for accuracy (scores 0 or 1); use bootstrap")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    layers = td_layers(model)
    if not layers:
        raise ValueError("the model has no TriangularDropout layer: nothing to choose")
    full = tuple(td.width for td in layers)
    asked = range(1, max(full) + 1) if widths is None else [int(w) for w in widths]
    if per_layer:  # each layer: the asked widths below its own, and its full width
        options = [sorted({w for w in asked if 1 <= w < f} | {f}) for f in full]
        candidates = [c for c in itertools.product(*options) if c != full]
    else:
        tied = sorted({w for w in asked if 1 <= w < min(full)}, reverse=True)
        candidates = [(w,) * len(full) for w in tied]
    data = list(data)
    ref = _scores(model, data, full, score)
    scored = ((c if per_layer else c[0], _scores(model, data, c, score)) for c in candidates)
    try:
        search = len(candidates) if per_layer else 0
        kw = {"confidence": confidence, "method": method, "resamples": resamples, "seed": seed}
        chosen, table = choose(
            ref, scored, tolerance, relative=relative, higher=higher, search=search, cost=cost, **kw
        )
    finally:
        set_width(model, None)
    value = float(ref.mean())
    return Selection(chosen, name, value, tolerance, relative, confidence, method, len(ref), table)


def choose(
    ref: torch.Tensor,
    scored: Iterable[tuple[int | tuple[int, ...], torch.Tensor]],
    tolerance: float,
    *,
    relative: bool = True,
    higher: bool = True,
    confidence: float = 0.95,
    method: str = "bootstrap",
    search: int = 0,
    cost: Callable[[tuple[int, ...]], float] | None = None,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[int | tuple[int, ...] | None, list[dict]]:
    """The choice from per-example scores: ``ref`` at full width, ``scored`` (width, scores)
    widest first. ``search`` > 0: a grid of that many candidates (Bonferroni, the cheapest by
    ``cost`` that meets); 0: a fixed sequence, stopping at the first width that fails."""
    sign = 1.0 if higher else -1.0
    value = float(ref.mean())
    allowed = tolerance * abs(value) if relative else tolerance
    alpha = (1 - confidence) / max(search, 1)
    table, chosen = [], None
    for w, s in scored:
        drop = sign * (ref - s)  # per example, positive: worse than full width
        if method == "binomial":
            bound = _binomial_bound(ref, s, alpha)
        else:
            bound = _bootstrap_bound(drop, alpha, resamples, seed)
        row = {"width": w, "value": float(s.mean()), "drop": float(drop.mean()), "bound": bound}
        table.append(row | {"allowed": allowed, "meets": bound <= allowed})
        if search:
            continue
        if bound > allowed:
            break  # fixed sequence: narrower widths are not tested
        chosen = w
    if search:
        passing = [r["width"] for r in table if r["meets"]]
        chosen = min(passing, key=lambda c: ((cost or sum)(c), c)) if passing else None
    return chosen, table


def evaluate(
    model: nn.Module,
    data: Iterable[tuple[torch.Tensor, torch.Tensor | None]],
    width: int,
    metric: str = "accuracy",
) -> float:
    """The mean of ``metric`` (as :func:`select_width` scores it) at ``width`` (tied), full
    width again afterwards."""
    try:
        return float(
            _scores(model, list(data), (width,) * len(td_layers(model)), METRICS[metric][0]).mean()
        )
    finally:
        set_width(model, None)


def _metric(metric: str | Metric, higher: bool | None) -> tuple[Metric, bool, str]:
    if isinstance(metric, str):
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose {sorted(METRICS)} or a callable")
        f, better = METRICS[metric]
        return f, better, metric
    if higher is None:
        raise ValueError("a callable metric needs higher_is_better (True or False)")
    return metric, higher, getattr(metric, "__name__", "metric")


@torch.no_grad()
def _scores(model: nn.Module, data: list, widths: tuple[int, ...], score: Metric) -> torch.Tensor:
    """Per-example scores (float64) of the model at ``widths`` (one per TD layer)."""
    was_training = model.training
    model.eval()
    set_width(model, list(widths))
    try:
        out = [score(model(x), x if y is None else y).double().reshape(-1) for x, y in data]
    finally:
        model.train(was_training)
    return torch.cat(out)


def _binomial_bound(ref: torch.Tensor, s: torch.Tensor, alpha: float) -> float:
    """Exact upper bound on the accuracy drop, the share of examples lost (right at full width
    only) minus the share gained (right at w only): a Clopper-Pearson upper bound on the first
    minus a lower bound on the second, each at alpha / 2 (their union covers both)."""
    n = len(ref)
    lost = int(((ref > 0.5) & (s < 0.5)).sum())
    gained = int(((ref < 0.5) & (s > 0.5)).sum())
    upper = 1.0 if lost == n else _binomial_root(lost, n, alpha / 2)
    lower = 0.0 if gained == 0 else _binomial_root(gained - 1, n, 1 - alpha / 2)
    return upper - lower


def _binomial_root(k: int, n: int, target: float) -> float:
    """The q at which P(X <= k) = target for X ~ Binomial(n, q), by bisection (the CDF falls
    as q grows): Clopper-Pearson's bounds."""
    ks = torch.arange(k + 1, dtype=torch.float64)
    log_choose = math.lgamma(n + 1) - torch.lgamma(ks + 1) - torch.lgamma(n - ks + 1)

    def cdf(q: float) -> float:
        logs = log_choose + ks * math.log(q) + (n - ks) * math.log1p(-q)
        return float(torch.logsumexp(logs, 0).exp())

    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) > target else (lo, mid)
    return (lo + hi) / 2


def _bootstrap_bound(drop: torch.Tensor, alpha: float, resamples: int, seed: int) -> float:
    """The (1 - alpha) percentile of the mean drop over examples resampled with replacement
    (a fixed seed: the same data give the same bound)."""
    g = torch.Generator().manual_seed(seed)
    n, means = len(drop), []
    for start in range(0, resamples, 256):  # chunks: resamples x n indices at once is large
        k = min(256, resamples - start)
        means.append(drop[torch.randint(n, (k, n), generator=g)].mean(1))
    return float(torch.quantile(torch.cat(means), 1 - alpha))
