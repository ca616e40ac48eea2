"""Evaluation: a trained network at every width (width sweeps), as tidy long-form rows.

The encoder runs once per batch; the decoder then sees the latent code under every prefix mask
at once (widths stacked along the batch), so sweeping all W widths costs one encoder pass and
one wide decoder pass instead of W full evaluations.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import torch
from torch import nn

from tridrop.dropout import prefix_mask
from tridrop.models.autoencoder import split_at_latent

COLUMNS = ["experiment", "model", "seed", "width", "metric", "value"]


@torch.no_grad()
def latent_mse(model: nn.Sequential, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Test MSE per pixel at latent widths ``1..W`` (index ``w - 1``), shape ``(W,)``."""
    encoder, td, decoder = split_at_latent(model.eval())
    width = td.width
    masks = prefix_mask(torch.arange(1, width + 1, device=x.device), width)
    total = torch.zeros(width, dtype=torch.float64, device=x.device)
    # The decoder sees width x chunk images at once: bound that for large images (CelebA).
    batch_size = max(1, min(batch_size, 2**24 // (width * x[0].numel())))
    for chunk in x.split(batch_size):
        z = encoder(chunk)
        decoded = decoder((masks[:, None, :] * z[None]).reshape(-1, width))
        err = (decoded.reshape(width, *chunk.shape) - chunk[None]) ** 2
        total += err.flatten(2).mean(2).sum(1).double()
    return (total / len(x)).cpu()


@torch.no_grad()
def reconstructions(model: nn.Sequential, x: torch.Tensor, widths: list[int]) -> torch.Tensor:
    """Reconstructions of ``x`` at each width, shape ``(len(widths), *x.shape)``."""
    encoder, td, decoder = split_at_latent(model.eval())
    z = encoder(x)
    masks = prefix_mask(torch.tensor(widths, device=x.device), td.width)
    return decoder((masks[:, None, :] * z[None]).reshape(-1, td.width)).reshape(
        len(widths), *x.shape
    )


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


@torch.no_grad()
def prefix_logits(model: nn.Sequential, x: torch.Tensor, widths: list[int]) -> list[torch.Tensor]:
    """Logits of a two-TD-layer head cut to each of ``widths`` (both hidden layers), in order.

    The first layer runs once at full width (a cut keeps a prefix of its units). The second
    layer's pre-activations at every width come from block prefix sums: with the hidden units
    split into blocks at the sorted widths, each block product ``h1[:, b] @ W2[a, b].T`` is
    computed once and accumulated over input blocks, so all K widths together cost one
    full-width product. Only the small output layer runs once per width.
    """
    from tridrop.models.head import head_linears

    l1, l2, l3 = head_linears(model)
    ws = sorted(set(widths))
    if ws[0] < 1 or ws[-1] > l2.out_features:
        raise ValueError(f"widths must be in [1, {l2.out_features}], got {widths}")
    bounds = [0, *ws]
    blocks = [slice(bounds[i], bounds[i + 1]) for i in range(len(ws))]
    h1 = torch.relu(nn.functional.linear(x, l1.weight[: ws[-1]], l1.bias[: ws[-1]]))
    # z2[k][a]: pre-activations of unit block a when both layers keep ws[k] units (a <= k).
    z2: list[list[torch.Tensor]] = [[] for _ in ws]
    for a, rows in enumerate(blocks):
        acc = l2.bias[rows].expand(len(x), -1)
        for b, cols in enumerate(blocks):
            acc = acc + h1[:, cols] @ l2.weight[rows, cols].T
            if b >= a:
                z2[b].append(acc)
    by_width = {
        w: nn.functional.linear(torch.relu(torch.cat(z2[k], 1)), l3.weight[:, :w], l3.bias)
        for k, w in enumerate(ws)
    }
    return [by_width[w] for w in widths]


@torch.no_grad()
def head_topk(
    model: nn.Sequential,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    widths: list[int],
    ks: tuple[int, ...] = (1, 5),
) -> torch.Tensor:
    """Top-k accuracy at each width, shape ``(len(widths), len(ks))``, from one pass over data."""
    model.eval()
    correct = torch.zeros(len(widths), len(ks), dtype=torch.float64)
    n = 0
    for x, y in batches:
        for i, logits in enumerate(prefix_logits(model, x, widths)):
            correct[i] += topk_correct(logits, y, ks)
        n += len(y)
    return correct / max(n, 1)


def topk_correct(
    logits: torch.Tensor, y: torch.Tensor, ks: tuple[int, ...] = (1, 5)
) -> torch.Tensor:
    """How many rows have their label among the ``k`` largest logits, for each k (float64)."""
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices
    hit = top == y[:, None]
    return torch.tensor([float(hit[:, :k].any(1).sum()) for k in ks], dtype=torch.float64)


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


def one_per_class(x: torch.Tensor, y: torch.Tensor, n: int) -> torch.Tensor:
    """The first test image of each class in turn, so a grid shows different classes."""
    picks: list[int] = []
    classes = torch.unique(y).tolist()
    for rank in range(len(x)):
        for c in classes:
            hits = (y == c).nonzero().flatten()
            if rank < len(hits) and len(picks) < n:
                picks.append(int(hits[rank]))
        if len(picks) >= n:
            break
    return x[picks]
