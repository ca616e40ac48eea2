"""The MLP autoencoder with Triangular Dropout on its latent layer.

``Flatten - Linear(D, hidden) - ReLU - Linear(hidden, latent) - TD - Linear(latent, hidden) -
ReLU - Linear(hidden, D) - Sigmoid - Unflatten``. The latent code is linear (as in PCA); the TD
layer sits between the encoder and the decoder, so :func:`~tridrop.dropout.narrow` cuts the code.
"""

from __future__ import annotations

from torch import nn

from tridrop.dropout import SharedWidth, TriangularDropout


def mlp_autoencoder(
    shape: tuple[int, ...], hidden: int, latent: int, mode: str = "triangle", p: float = 0.1
) -> SharedWidth:
    """An MLP autoencoder for images of ``shape`` (C, H, W) with a latent of ``latent`` units."""
    dim = 1
    for s in shape:
        dim *= s
    return SharedWidth(
        nn.Flatten(),
        nn.Linear(dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, latent),
        TriangularDropout(latent, mode, p),
        nn.Linear(latent, hidden),
        nn.ReLU(),
        nn.Linear(hidden, dim),
        nn.Sigmoid(),
        nn.Unflatten(1, tuple(shape)),
    )


def split_at_latent(model: nn.Sequential) -> tuple[nn.Sequential, TriangularDropout, nn.Sequential]:
    """The encoder, the latent TD layer and the decoder of an autoencoder (views, not copies)."""
    idx = [i for i, m in enumerate(model) if isinstance(m, TriangularDropout)]
    if len(idx) != 1:
        raise ValueError(f"expected one TriangularDropout layer, found {len(idx)}")
    i = idx[0]
    return model[:i], model[i], model[i + 1 :]
