"""A small VGG-style classifier: the `fashion` preset's stand-in for VGG19.

``features``: blocks of ``Conv(3x3) - ReLU - MaxPool(2)``; ``classifier``: VGG19's head shape,
``Linear - ReLU - Dropout - Linear - ReLU - Dropout - Linear`` (module indices 0, 3, 6, as in
:func:`~tridrop.families.head.models.td_head`, so the trained head loads into a TD head as it
is). As in VGG19, where the head holds 86% of the parameters, the head is most of the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from tridrop.families.head.models import count_params
from tridrop.files import load_model_file, load_weights


class SmallVGG(nn.Module):
    """``features`` (conv blocks, flattened) then ``classifier`` (the head)."""

    def __init__(
        self,
        shape: Sequence[int],
        channels: Sequence[int],
        hidden: int,
        classes: int,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        c, h, w = shape
        layers: list[nn.Module] = []
        for cin, cout in zip([c, *channels[:-1]], channels, strict=True):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            h, w = h // 2, w // 2
        if h < 1 or w < 1:
            raise ValueError(f"{len(channels)} pooling blocks leave no pixels of a {shape} image")
        layers.append(nn.Flatten())
        self.features = nn.Sequential(*layers)
        self.feature_dim = channels[-1] * h * w
        self.classifier = nn.Sequential(
            nn.Linear(self.feature_dim, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build_cnn(arch: dict) -> SmallVGG:
    """The network described by ``arch`` (as stored in its model file's metadata)."""
    a = arch
    return SmallVGG(a["shape"], a["channels"], a["hidden"], a["classes"], a["dropout"])


def load_cnn(path: str | Path, device: torch.device | str = "cpu") -> tuple[SmallVGG, dict]:
    """A trained network and its metadata, in eval mode."""
    state, meta = load_model_file(path)
    kind = meta.get("arch", {}).get("kind")
    if kind != "cnn":
        raise ValueError(f"{path}: not a CNN backbone model file (kind {kind!r})")
    model = build_cnn(meta["arch"])
    load_weights(model, state, path)
    return model.to(device).eval(), meta


def head_share(model: SmallVGG) -> float:
    """The head's share of the network's parameters (VGG19: 0.86)."""
    return count_params(model.classifier) / count_params(model)
