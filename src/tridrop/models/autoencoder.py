"""The autoencoders with Triangular Dropout on their latent layer: an MLP and a conv net.

MLP (MNIST-format images): ``Flatten - Linear(D, hidden) - ReLU - Linear(hidden, latent) - TD -
Linear(latent, hidden) - ReLU - Linear(hidden, D) - Sigmoid - Unflatten``.

Conv (CelebA faces, 64x64): stride-2 ``Conv(4x4) - BatchNorm - ReLU`` blocks halve the image
down to a 4x4 map, then ``Flatten - Linear - TD - Linear - Unflatten`` and mirrored transposed
convolutions back up, ``Sigmoid`` output. In both the latent code is linear (as in PCA) and the
TD layer sits between two ``nn.Linear`` layers, so :func:`~tridrop.dropout.narrow` cuts the code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from torch import nn

from tridrop.dropout import SharedWidth, TriangularDropout
from tridrop.files import load_model_file

ARCHS = ("mlp", "conv")


def mlp_autoencoder(
    shape: tuple[int, ...],
    hidden: int,
    latent: int,
    mode: str = "triangle",
    p: float = 0.1,
    full: float = 0.0,
) -> SharedWidth:
    """An MLP autoencoder for images of ``shape`` (C, H, W) with a latent of ``latent`` units.

    ``full``: the share of each training batch kept at full width (see the layer).
    """
    dim = math.prod(shape)
    return SharedWidth(
        nn.Flatten(),
        nn.Linear(dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, latent),
        TriangularDropout(latent, mode, p, full=full),
        nn.Linear(latent, hidden),
        nn.ReLU(),
        nn.Linear(hidden, dim),
        nn.Sigmoid(),
        nn.Unflatten(1, tuple(shape)),
    )


def conv_autoencoder(
    shape: tuple[int, ...],
    channels: Sequence[int],
    latent: int,
    mode: str = "triangle",
    p: float = 0.1,
    full: float = 0.0,
) -> SharedWidth:
    """A convolutional autoencoder whose fully-connected latent layer has Triangular Dropout.

    Each of the ``len(channels)`` encoder blocks halves height and width (``shape`` (C, H, W)
    with H and W divisible by ``2 ** len(channels)``); the decoder mirrors the encoder.
    """
    c, h, w = shape
    scale = 2 ** len(channels)
    if h % scale or w % scale:
        raise ValueError(f"image size {h}x{w} is not divisible by 2^{len(channels)}")
    small = (channels[-1], h // scale, w // scale)
    layers: list[nn.Module] = []
    for cin, cout in zip([c, *channels[:-1]], channels, strict=True):
        layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.ReLU()]
    layers += [
        nn.Flatten(),
        nn.Linear(math.prod(small), latent),
        TriangularDropout(latent, mode, p, full=full),
        nn.Linear(latent, math.prod(small)),
        nn.Unflatten(1, small),
    ]
    ups = list(reversed(channels))
    for cin, cout in zip(ups[:-1], ups[1:], strict=True):
        layers += [nn.ReLU(), nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout)]
    layers += [nn.ReLU(), nn.ConvTranspose2d(ups[-1], c, 4, 2, 1), nn.Sigmoid()]
    return SharedWidth(*layers)


def build_autoencoder(arch: dict) -> SharedWidth:
    """The autoencoder described by ``arch`` (as stored in a run's metadata)."""
    kind = arch["kind"]
    shape = tuple(arch["shape"])
    td = (arch["latent"], arch["mode"], arch["p"], arch.get("full", 0.0))
    if kind == "mlp_autoencoder":
        return mlp_autoencoder(shape, arch["hidden"], *td)
    if kind == "conv_autoencoder":
        return conv_autoencoder(shape, arch["channels"], *td)
    raise ValueError(f"unknown architecture {kind!r}")


def split_at_latent(model: nn.Sequential) -> tuple[nn.Sequential, TriangularDropout, nn.Sequential]:
    """The encoder, the latent TD layer and the decoder of an autoencoder (views, not copies)."""
    idx = [i for i, m in enumerate(model) if isinstance(m, TriangularDropout)]
    if len(idx) != 1:
        raise ValueError(f"expected one TriangularDropout layer, found {len(idx)}")
    i = idx[0]
    return model[:i], model[i], model[i + 1 :]


def load_autoencoder(path: str | Path, device: str | object = "cpu") -> SharedWidth:
    """Rebuild a trained autoencoder from its model file, in eval mode."""
    state, meta = load_model_file(path)
    model = build_autoencoder(meta["arch"])
    model.load_state_dict(state)
    return model.to(device).eval()
