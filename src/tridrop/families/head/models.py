"""The classifier head with Triangular Dropout on both hidden layers, and its baselines.

``Linear(D, H) - ReLU - TD - Linear(H, H) - ReLU - TD - Linear(H, C)``: VGG19's classifier with
its two Dropout layers replaced by TD layers that share each sample's width fraction (same
module indices 0, 3, 6, so the pretrained head loads as is). Baselines on the same axes: a head
whose hidden units are reordered by an importance score (then cut like a TD head), and a head
whose two hidden layers are replaced by truncated SVDs at a given parameter budget.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from tridrop.dropout import SharedWidth, TriangularDropout
from tridrop.families.head.specs import HeadModel
from tridrop.files import load_model_file, load_weights
from tridrop.specs import load


def td_head(
    in_features: int, hidden: int, classes: int, mode: str = "triangle", p: float = 0.1
) -> SharedWidth:
    """The head; ``mode="none"`` gives the same network trained without TD."""
    return SharedWidth(
        nn.Linear(in_features, hidden),
        nn.ReLU(),
        TriangularDropout(hidden, mode, p),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        TriangularDropout(hidden, mode, p),
        nn.Linear(hidden, classes),
    )


def arch(model: HeadModel, in_features: int, classes: int) -> dict:
    """What a model file records of a head: the family, its inputs and outputs, the typed spec."""
    return {"kind": "head", "in_features": in_features, "classes": classes, "model": asdict(model)}


def head_linears(model: nn.Sequential) -> tuple[nn.Linear, nn.Linear, nn.Linear]:
    """The three Linear layers of a head built by :func:`td_head`."""
    linears = [m for m in model if isinstance(m, nn.Linear)]
    if len(linears) != 3:
        raise ValueError(f"expected a head with 3 Linear layers, found {len(linears)}")
    return linears[0], linears[1], linears[2]


def head_params(in_features: int, w1: int, w2: int, classes: int) -> int:
    """Parameters of the dense head cut to hidden widths ``w1`` and ``w2`` (weights and biases)."""
    return in_features * w1 + w1 + w1 * w2 + w2 + w2 * classes + classes


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def importance_order(model: nn.Sequential, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Units of each hidden layer sorted by importance, most important first.

    The score of a unit is its mean activation on ``x`` times the L2 norm of its outgoing
    weights: the typical size of its contribution to the next layer (a standard magnitude
    criterion for structured pruning).
    """
    l1, l2, l3 = head_linears(model)
    h1 = torch.relu(l1(x))
    h2 = torch.relu(l2(h1))
    s1 = h1.abs().mean(0) * l2.weight.norm(dim=0)
    s2 = h2.abs().mean(0) * l3.weight.norm(dim=0)
    return torch.argsort(s1, descending=True), torch.argsort(s2, descending=True)


@torch.no_grad()
def permute_units(model: nn.Sequential, order1: torch.Tensor, order2: torch.Tensor) -> None:
    """Reorder the hidden units in place (rows of a layer and columns of the next one).

    The function the head computes at full width is unchanged; a prefix cut afterwards keeps
    the first units of the new order.
    """
    l1, l2, l3 = head_linears(model)
    l1.weight.copy_(l1.weight[order1])
    l1.bias.copy_(l1.bias[order1])
    l2.weight.copy_(l2.weight[order2][:, order1])
    l2.bias.copy_(l2.bias[order2])
    l3.weight.copy_(l3.weight[:, order2])


def _factor(layer: nn.Linear, rank: int) -> nn.Module:
    """``layer`` replaced by its rank-``rank`` SVD (two Linear layers) when that is smaller."""
    out_f, in_f = layer.weight.shape
    if rank * (in_f + out_f) >= out_f * in_f:
        return layer
    u, s, vh = torch.linalg.svd(layer.weight.detach().double(), full_matrices=False)
    first = nn.Linear(in_f, rank, bias=False)
    second = nn.Linear(rank, out_f)
    with torch.no_grad():
        first.weight.copy_((s[:rank, None] * vh[:rank]).float())
        second.weight.copy_(u[:, :rank].float())
        second.bias.copy_(layer.bias)
    return nn.Sequential(first, second)


def svd_params(in_features: int, hidden: int, classes: int, rank: int) -> int:
    """Parameters of :func:`svd_head` at ``rank``: both hidden layers factored, output kept."""
    one = min(rank * (in_features + hidden), in_features * hidden) + hidden
    two = min(rank * 2 * hidden, hidden * hidden) + hidden
    return one + two + hidden * classes + classes


def svd_rank_for(in_features: int, hidden: int, classes: int, budget: int) -> int:
    """The largest rank whose SVD head has at most ``budget`` parameters (0: none fits)."""
    rank = 0
    for r in range(1, hidden + 1):
        if svd_params(in_features, hidden, classes, r) > budget:
            break
        rank = r
    return rank


def svd_rank_at(in_features: int, hidden: int, classes: int, width: int) -> int:
    """The SVD head's rank with at most the TD head's parameters at ``width`` (0: none fits)."""
    budget = head_params(in_features, width, width, classes)
    return svd_rank_for(in_features, hidden, classes, budget)


def svd_head(model: nn.Sequential, rank: int) -> nn.Sequential:
    """The head with both hidden layers replaced by their rank-``rank`` truncated SVDs."""
    l1, l2, l3 = head_linears(model)
    layers = [_factor(l1, rank), nn.ReLU(), _factor(l2, rank), nn.ReLU(), _copy_linear(l3)]
    return nn.Sequential(*layers).eval()


def _copy_linear(layer: nn.Linear) -> nn.Linear:
    new = nn.Linear(layer.in_features, layer.out_features)
    new.load_state_dict(layer.state_dict())
    return new


def load_head(
    path: str | Path, device: torch.device | str = "cpu", in_features: int | None = None
) -> SharedWidth:
    """Rebuild a head from a model file (VGG19's reference or a trained one), in eval mode.

    A model file of another family, or a head made for features of another width than
    ``in_features``, is refused with one line naming the file.
    """
    state, meta = load_model_file(path)
    a = meta.get("arch", {}) if isinstance(meta, dict) else {}
    if a.get("kind") != "head":
        raise ValueError(
            f"{path}: not a classifier-head model file (its kind is {a.get('kind')!r}); "
            "give one written by `tridrop head train` or `tridrop head pretrained`"
        )
    if in_features is not None and a["in_features"] != in_features:
        raise ValueError(
            f"{path}: a head for {a['in_features']} input features, but the feature cache "
            f"has {in_features}"
        )
    m = load(HeadModel, a["model"], str(path))
    model = td_head(a["in_features"], m.hidden, a["classes"], m.mode, m.p)
    load_weights(model, state, path)
    return model.to(device).eval()
