"""A small VGG-style classifier: the `fashion` preset's stand-in for VGG19.

``features``: blocks of ``Conv(3x3) - ReLU - MaxPool(2)``; ``classifier``: VGG19's head shape,
``Linear - ReLU - Dropout - Linear - ReLU - Dropout - Linear`` (module indices 0, 3, 6, as in
:func:`~tridrop.families.head.models.td_head`, so the trained head loads into a TD head as it
is). As in VGG19, where the head holds 86% of the parameters, the head is most of the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from tridrop.families.head.models import count_params
from tridrop.families.head.specs import BackboneModel
from tridrop.files import load_model_file, load_weights
from tridrop.specs import load


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


def build_cnn(model: BackboneModel, shape: Sequence[int], classes: int) -> SmallVGG:
    """The network of the typed spec ``model`` for images of ``shape`` and ``classes``."""
    return SmallVGG(list(shape), list(model.channels), model.hidden, classes, model.dropout)


def arch(model: BackboneModel, shape: Sequence[int], classes: int) -> dict:
    """What a model file records of its network: the family, the data's shape, the typed spec."""
    return {"kind": "cnn", "shape": list(shape), "classes": classes, "model": asdict(model)}


def spec_of(meta: dict, path: str | Path) -> BackboneModel:
    """The typed spec a backbone's model file records."""
    return load(BackboneModel, meta["arch"]["model"], str(path))


def load_cnn(path: str | Path, device: torch.device | str = "cpu") -> tuple[SmallVGG, dict]:
    """A trained network and its metadata, in eval mode."""
    state, meta = load_model_file(path)
    kind = meta.get("arch", {}).get("kind")
    if kind != "cnn":
        raise ValueError(f"{path}: not a CNN backbone model file (kind {kind!r})")
    a = meta["arch"]
    model = build_cnn(spec_of(meta, path), a["shape"], a["classes"])
    load_weights(model, state, path)
    return model.to(device).eval(), meta


def head_share(model: SmallVGG) -> float:
    """The head's share of the network's parameters (VGG19: 0.86)."""
    return count_params(model.classifier) / count_params(model)
