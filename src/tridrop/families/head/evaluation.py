"""Classifier-head evaluation: top-k accuracy of a two-TD-layer head at many widths at once."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


@torch.no_grad()
def prefix_logits(model: nn.Sequential, x: torch.Tensor, widths: list[int]) -> list[torch.Tensor]:
    """Logits of a two-TD-layer head cut to each of ``widths`` (both hidden layers), in order.

    The first layer runs once at full width (a cut keeps a prefix of its units). The second
    layer's pre-activations at every width come from block prefix sums: with the hidden units
    split into blocks at the sorted widths, each block product ``h1[:, b] @ W2[a, b].T`` is
    computed once and accumulated over input blocks, so all K widths together cost one
    full-width product. Only the small output layer runs once per width.
    """
    from tridrop.families.head.models import head_linears

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


@torch.no_grad()
def grid_top1(
    model: nn.Sequential, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], widths: list[int]
) -> torch.Tensor:
    """Top-1 of a two-TD-layer head with its hidden layers cut independently: entry (i, j)
    keeps ``widths[i]`` units of the first layer and ``widths[j]`` of the second (MatFormer's
    mix-and-match), from one pass over the data."""
    from tridrop.families.head.models import head_linears

    l1, l2, l3 = head_linears(model)
    correct = torch.zeros(len(widths), len(widths), dtype=torch.float64)
    n = 0
    for x, y in batches:
        h1 = torch.relu(l1(x))
        for i, w1 in enumerate(widths):
            z2 = h1[:, :w1] @ l2.weight[:, :w1].T + l2.bias  # every second-layer unit at w1
            h2 = torch.relu(z2)
            for j, w2 in enumerate(widths):
                logits = h2[:, :w2] @ l3.weight[:, :w2].T + l3.bias
                correct[i, j] += float((logits.argmax(1) == y).sum())
        n += len(y)
    return correct / max(n, 1)


@torch.no_grad()
def topk_accuracy(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    ks: tuple[int, ...] = (1, 5),
) -> list[float]:
    """Top-k accuracy of any classifier (no widths: the probe, an SVD or a cut head)."""
    model.eval()
    correct, n = torch.zeros(len(ks), dtype=torch.float64), 0
    for x, y in batches:
        correct += topk_correct(model(x), y, ks)
        n += len(y)
    return (correct / max(n, 1)).tolist()


def topk_correct(
    logits: torch.Tensor, y: torch.Tensor, ks: tuple[int, ...] = (1, 5)
) -> torch.Tensor:
    """How many rows have their label among the ``k`` largest logits, for each k (float64)."""
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices
    hit = top == y[:, None]
    return torch.tensor([float(hit[:, :k].any(1).sum()) for k in ks], dtype=torch.float64)
