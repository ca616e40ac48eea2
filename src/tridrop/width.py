"""Model-level width helpers: find the TD layers, set their width, sweep a metric over widths.

Light (torch only). The pipeline's batched sweeps live in :mod:`tridrop.sweep`; these work on
any model: the masked model is evaluated at each width, or :func:`~tridrop.extract.narrow`
gives the smaller dense model for one width.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn

from tridrop.dropout import TriangularDropout

Width = int | float | None


def nested_widths(width: int) -> list[int]:
    """Powers of two below ``width``, then ``width`` itself: 1, 2, 4, ..., W (Matryoshka's)."""
    out = [1 << i for i in range(width.bit_length()) if 1 << i < width]
    return [*out, width]


def sandwich_widths(width: int, n_random: int) -> list[int]:
    """The sandwich rule's widths of one step: full, 1, then ``n_random`` drawn uniformly
    from 1..W (torch's global generator, so a seeded run draws the same)."""
    drawn = torch.randint(1, width + 1, (n_random,)).tolist()
    return [width, 1, *drawn]


def td_layers(model: nn.Module) -> list[TriangularDropout]:
    """The model's Triangular Dropout layers, in ``model.modules()`` order (narrow's order)."""
    return [m for m in model.modules() if isinstance(m, TriangularDropout)]


def set_width(model: nn.Module, width: Width | Sequence[Width]) -> None:
    """Set the evaluation width of every TD layer: one value (units or a fraction) or one each."""
    layers = td_layers(model)
    widths = list(width) if isinstance(width, Sequence) else [width] * len(layers)
    if len(widths) != len(layers):
        raise ValueError(f"got {len(widths)} widths for {len(layers)} TriangularDropout layers")
    for td, w in zip(layers, widths, strict=True):
        td.set_width(w)


@torch.no_grad()
def width_sweep(
    model: nn.Module,
    x: torch.Tensor,
    widths: Iterable[Width],
    metric: Callable[[torch.Tensor], float | torch.Tensor] | None = None,
) -> list:
    """The model's output on ``x`` (or ``metric(output)``) at each width, in eval mode.

    The TD layers' widths and the model's training mode are restored afterwards.
    """
    was_training = model.training
    saved = [td.eval_width for td in td_layers(model)]
    model.eval()
    try:
        results = []
        for w in widths:
            set_width(model, w)
            y = model(x)
            results.append(y if metric is None else metric(y))
        return results
    finally:
        set_width(model, saved)
        model.train(was_training)
