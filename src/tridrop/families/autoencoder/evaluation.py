"""Autoencoder evaluation: a trained network at every latent width, and reconstructions.

The encoder runs once per batch; the decoder then sees the latent code under every prefix mask
at once (widths stacked along the batch), so sweeping all W widths costs one encoder pass and
one wide decoder pass instead of W full evaluations.
"""

from __future__ import annotations

import torch
from torch import nn

from tridrop.dropout import prefix_mask
from tridrop.families.autoencoder.models import split_at_latent


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
