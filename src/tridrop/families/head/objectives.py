"""Training objectives of a classifier head beyond the cross-entropy under TD's masks.

Each is a ``loss_fn(model, x, y)`` for :func:`tridrop.train.fit`, the autoencoders' relatives
(:mod:`tridrop.families.autoencoder.objectives`) with cross-entropy for the squared error. The
first Linear layer (the head's dearest: VGG19's 25088 x 4096) runs once per step; the rest of
the head sees its hidden units under every width's prefix mask at once, both hidden layers
cut alike (the tied widths the sweeps and claims use).

- Matryoshka (MRL): the mean cross-entropy at the nested widths 1, 2, 4, ..., W.
- Sandwich rule (US-Nets): the mean at full width, width 1 and n random widths; with inplace
  distillation the narrow widths' loss is the mean of their cross-entropy to the labels and
  to the full width's (detached) predicted distribution.
"""

from __future__ import annotations

import torch
from torch import nn

from tridrop.dropout import prefix_mask
from tridrop.families.head.models import head_linears
from tridrop.specs import Objective
from tridrop.train import LossFn, classification_loss
from tridrop.width import nested_widths, sandwich_widths


def logits_at(model: nn.Module, x: torch.Tensor, widths: list[int]) -> torch.Tensor:
    """Logits of the head cut to each (tied) width, shape ``(len(widths), len(x), classes)``.

    Equals the head in eval mode after ``set_width(w)`` for each w (the TD layers' own training
    masks are bypassed); gradients flow.
    """
    l1, l2, l3 = head_linears(model)
    k, hidden = len(widths), l1.out_features
    masks = prefix_mask(torch.tensor(widths, device=x.device), hidden, x.dtype)[:, None, :]
    h1 = torch.relu(l1(x))[None] * masks  # (k, B, H): the first layer once
    h2 = torch.relu(l2(h1.reshape(-1, hidden))).reshape(k, len(x), hidden) * masks
    return l3(h2)


def matryoshka_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean over the nested widths 1, 2, 4, ..., W of the cross-entropy."""
    logits = logits_at(model, x, nested_widths(head_linears(model)[0].out_features))
    return _cross_entropy(logits, y).mean()


def sandwich_loss(n_random: int, distill: bool) -> LossFn:
    """US-Nets' sandwich rule: full width, width 1 and ``n_random`` widths drawn uniformly."""

    def loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        width = head_linears(model)[0].out_features
        logits = logits_at(model, x, sandwich_widths(width, n_random)).float()
        err = _cross_entropy(logits, y)  # one loss per width
        if distill:
            teacher = logits[0].detach().softmax(-1)
            to_teacher = -(teacher * logits[1:].log_softmax(-1)).sum(-1).mean(-1)
            err = torch.cat([err[:1], (err[1:] + to_teacher) / 2])
        return err.mean()

    return loss


def _cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per width of ``(k, B, C)`` logits: shape ``(k,)``."""
    k = logits.shape[0]
    flat = nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), y.repeat(k), reduction="none"
    )
    return flat.reshape(k, -1).mean(1)


def loss_for(objective: Objective) -> LossFn:
    """The ``loss_fn`` of an objective (plain: cross-entropy under the TD layers' masks)."""
    if objective.loss == "matryoshka":
        return matryoshka_loss
    if objective.loss == "sandwich":
        return sandwich_loss(objective.sandwich_random, objective.distill)
    return classification_loss


def passes(objective: Objective, in_features: int, hidden: int, classes: int) -> float:
    """Multiply-adds per training row over one full-width forward pass (the training cost):
    the first layer runs once, the rest once per width of the step."""
    widths = {
        "plain": 1,
        "matryoshka": len(nested_widths(hidden)),
        "sandwich": 2 + objective.sandwich_random,
    }[objective.loss]
    first, rest = in_features * hidden, hidden * hidden + hidden * classes
    return (first + widths * rest) / (first + rest)


def run_passes(meta: dict) -> float:
    """A trained head's forward passes per training row, from its metadata (files written
    before they were recorded trained the plain objective: one pass per epoch)."""
    if "forward_passes" in meta:
        return float(meta["forward_passes"])
    a = meta["arch"]
    objective = Objective(**meta.get("objective", {}))
    hidden = a["model"]["hidden"]
    return meta["train"]["epochs"] * passes(objective, a["in_features"], hidden, a["classes"])
