"""Autoencoder evaluation: a trained network at every latent width, and reconstructions.

The encoder runs once per batch; the decoder then sees the latent code under every prefix mask
at once (widths stacked along the batch), so sweeping all W widths costs one encoder pass and
one wide decoder pass instead of W full evaluations.

The **training-free controls** cut an autoencoder trained without TD in better ways than
zeroing its last units, with nothing fitted but on the training split (:func:`controls_mse`):

- ``meanfill``: units kept in index order, each dropped unit set to its mean training code;
- ``pca``: the code rotated by its own PCA (fitted on the training codes); width k keeps its
  projection onto the top k principal directions (the rest at the mean);
- ``greedy``: units in the order of greedy forward selection on training images (each step adds
  the unit that most lowers their MSE, dropped units at their mean), then kept in that order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from tridrop.dropout import prefix_mask
from tridrop.families.autoencoder.models import split_at_latent

log = logging.getLogger(__name__)

# Floats the decoder outputs at once (widths or candidates x images x pixels).
MAX_ELEMENTS = 2**24
CONTROLS = ("meanfill", "pca", "greedy")


def _sse(decoder: nn.Module, codes: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum over images of each image's MSE per pixel, for a stack of codes ``(K, n, W)``."""
    k, n, width = codes.shape
    decoded = decoder(codes.reshape(-1, width)).reshape(k, *target.shape)
    return ((decoded - target[None]) ** 2).flatten(2).mean(2).sum(1).double()


@torch.no_grad()
def _cut_mse(
    model: nn.Sequential,
    x: torch.Tensor,
    cut: Callable[[torch.Tensor], torch.Tensor],
    rows: int,
    batch_size: int = 256,
) -> torch.Tensor:
    """MSE per pixel over ``x`` of the ``rows`` codes ``cut(z)`` (``(rows, n, W)``) of every
    batch of codes ``z`` (``(n, W)``), shape ``(rows,)``."""
    encoder, _, decoder = split_at_latent(model.eval())
    total = torch.zeros(rows, dtype=torch.float64, device=x.device)
    # The decoder sees rows x chunk images at once: bound that for large images (CelebA).
    batch_size = max(1, min(batch_size, MAX_ELEMENTS // (rows * x[0].numel())))
    for chunk in x.split(batch_size):
        total += _sse(decoder, cut(encoder(chunk)), chunk)
    return (total / len(x)).cpu()


def _filled(z: torch.Tensor, keep: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """Codes ``(K, n, W)``: row k keeps the units where ``keep[k]`` is 1, the rest at ``fill``."""
    return keep[:, None, :] * z[None] + (1 - keep)[:, None, :] * fill


def latent_mse(model: nn.Sequential, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Test MSE per pixel at latent widths ``1..W`` (index ``w - 1``), shape ``(W,)``."""
    width = split_at_latent(model)[1].width
    masks = prefix_mask(torch.arange(1, width + 1, device=x.device), width)
    return _cut_mse(model, x, lambda z: masks[:, None, :] * z[None], width, batch_size)


def ordered_mse(
    model: nn.Sequential,
    x: torch.Tensor,
    order: torch.Tensor | list[int],
    fill: torch.Tensor | None = None,
    widths: int | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """MSE per pixel at widths ``1..widths`` (default W) keeping the units ``order[:w]``, the
    others set to ``fill`` (``(W,)``; default zero, what TD's cut does), shape ``(widths,)``.

    ``order`` lists at least ``widths`` distinct units; with ``order = range(W)`` and no fill
    this is :func:`latent_mse`.
    """
    width = split_at_latent(model)[1].width
    order = torch.as_tensor(order, device=x.device).long()
    widths = len(order) if widths is None else widths
    if widths > len(order) or len(set(order.tolist())) != len(order):
        raise ValueError(f"order {order.tolist()}: {widths} distinct units needed")
    fill = torch.zeros(width, device=x.device) if fill is None else fill.to(x.device)
    keep = torch.zeros(widths, width, device=x.device)
    for w in range(widths):
        keep[w:, order[w]] = 1  # width w + 1 keeps order[:w + 1]
    return _cut_mse(model, x, lambda z: _filled(z, keep, fill), widths, batch_size)


@torch.no_grad()
def codes(model: nn.Sequential, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """The latent codes of ``x`` (the encoder's outputs, before any cut), shape ``(n, W)``."""
    encoder = split_at_latent(model.eval())[0]
    return torch.cat([encoder(chunk) for chunk in x.split(batch_size)])


def code_pca(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(W,)`` and principal directions of codes ``z``: rows of ``(W, W)`` in decreasing
    order of variance."""
    zz = z.double()
    mean = zz.mean(0)
    centred = zz - mean
    cov = centred.T @ centred / max(1, len(zz) - 1)
    _, vectors = torch.linalg.eigh(cov)  # ascending eigenvalues, vectors in columns
    return mean.to(z.dtype), vectors.flip(1).T.contiguous().to(z.dtype)


def pca_cut_mse(
    model: nn.Sequential,
    x: torch.Tensor,
    mean: torch.Tensor,
    components: torch.Tensor,
    batch_size: int = 256,
) -> torch.Tensor:
    """MSE per pixel at widths ``1..W`` of the PCA-rotated cut: width k decodes
    ``mean + P_k (z - mean)``, ``P_k`` the projection onto the first k ``components``
    (orthonormal rows, from :func:`code_pca`), shape ``(W,)``."""
    mean, components = mean.to(x.device), components.to(x.device)
    # projections[k - 1] = sum of the outer products of the first k directions.
    projections = torch.cumsum(components[:, :, None] * components[:, None, :], 0)

    def cut(z: torch.Tensor) -> torch.Tensor:
        return mean + torch.einsum("nv,kvu->knu", z - mean, projections)

    return _cut_mse(model, x, cut, len(components), batch_size)


@torch.no_grad()
def greedy_order(
    model: nn.Sequential,
    x: torch.Tensor,
    fill: torch.Tensor | None = None,
    steps: int | None = None,
    max_elements: int = MAX_ELEMENTS,
) -> tuple[list[int], torch.Tensor]:
    """Greedy forward selection of latent units on images ``x``: each step adds the unit whose
    keeping most lowers the MSE, the units not chosen set to ``fill`` (default zero).

    Returns the first ``steps`` (default W) units chosen and the MSE per pixel after each step
    (``(steps,)``: the best-found subset of each size). A step decodes every candidate at once
    (candidates stacked like widths in :func:`latent_mse`); ties go to the lower index.
    """
    encoder, td, decoder = split_at_latent(model.eval())
    width = td.width
    steps = width if steps is None else min(steps, width)
    fill = torch.zeros(width, device=x.device) if fill is None else fill.to(x.device)
    z = codes(model, x)
    keep = torch.zeros(width, device=x.device)
    chosen: list[int] = []
    found = torch.zeros(steps, dtype=torch.float64)
    for step in range(steps):
        candidates = [u for u in range(width) if u not in chosen]
        masks = keep.repeat(len(candidates), 1)
        masks[torch.arange(len(candidates)), candidates] = 1
        chunk = max(1, max_elements // (len(candidates) * x[0].numel()))
        sse = torch.zeros(len(candidates), dtype=torch.float64, device=x.device)
        for zs, xs in zip(z.split(chunk), x.split(chunk), strict=True):
            sse += _sse(decoder, _filled(zs, masks, fill), xs)
        best = int(torch.argmin(sse))
        chosen.append(candidates[best])
        keep[candidates[best]] = 1
        found[step] = sse[best].cpu() / len(x)
    return chosen, found


@dataclass(frozen=True)
class Cuts:
    """The training-free cuts of a model trained without TD, fitted on training images: the
    codes' mean (the fill of dropped units), principal directions and greedy unit order."""

    mean: torch.Tensor
    components: torch.Tensor
    order: list[int]

    @classmethod
    def fit(
        cls, model: nn.Sequential, x_train: torch.Tensor, greedy_images: int = 2000, seed: int = 0
    ) -> Cuts:
        """Code means and PCA on ``x_train``; the greedy order on a fixed random subset of
        ``greedy_images`` of them, drawn with ``seed``."""
        z = codes(model, x_train)
        mean, components = code_pca(z)
        pick = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(seed))
        order, _ = greedy_order(model, x_train[pick[:greedy_images].to(x_train.device)], mean)
        return cls(mean, components, order)

    def mse(self, model: nn.Sequential, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Test MSE per pixel at widths ``1..W`` of each cut in :data:`CONTROLS`."""
        identity = list(range(len(self.mean)))
        return {
            "meanfill": ordered_mse(model, x, identity, self.mean),
            "pca": pca_cut_mse(model, x, self.mean, self.components),
            "greedy": ordered_mse(model, x, self.order, self.mean),
        }

    def codes(self, name: str, z: torch.Tensor, widths: list[int]) -> torch.Tensor:
        """Codes ``(len(widths), n, W)`` of cut ``name`` of the codes ``z`` at each width."""
        mean = self.mean.to(z.device)
        if name == "pca":
            top = [self.components[:w].to(z.device) for w in widths]
            return torch.stack([mean + (z - mean) @ p.T @ p for p in top])
        units = {"meanfill": list(range(len(mean))), "greedy": self.order}[name]
        keep = torch.zeros(len(widths), len(mean), device=z.device)
        for i, w in enumerate(widths):
            keep[i, units[:w]] = 1
        return _filled(z, keep, mean)


def controls_mse(
    model: nn.Sequential,
    x_train: torch.Tensor,
    x_test: torch.Tensor,
    greedy_images: int = 2000,
    seed: int = 0,
) -> tuple[dict[str, torch.Tensor], list[int]]:
    """Test MSE per pixel at widths ``1..W`` of the training-free cuts of ``model`` (see
    :data:`CONTROLS` and the module's doc), and the greedy unit order.

    Code means, the code PCA and the greedy order are fitted on the training images only (the
    greedy order on a fixed random subset of ``greedy_images`` of them, drawn with ``seed``);
    the MSE is measured on ``x_test``.
    """
    cuts = Cuts.fit(model, x_train, greedy_images, seed)
    return cuts.mse(model, x_test), cuts.order


@torch.no_grad()
def reconstructions(model: nn.Sequential, x: torch.Tensor, widths: list[int]) -> torch.Tensor:
    """Reconstructions of ``x`` at each width, shape ``(len(widths), *x.shape)``."""
    encoder, td, decoder = split_at_latent(model.eval())
    z = encoder(x)
    masks = prefix_mask(torch.tensor(widths, device=x.device), td.width)
    return decoder((masks[:, None, :] * z[None]).reshape(-1, td.width)).reshape(
        len(widths), *x.shape
    )


@torch.no_grad()
def cut_reconstructions(
    model: nn.Sequential, x: torch.Tensor, widths: list[int], cuts: Cuts, name: str
) -> torch.Tensor:
    """Reconstructions of ``x`` by training-free cut ``name`` of ``cuts`` at each width, shape
    ``(len(widths), *x.shape)``."""
    encoder, td, decoder = split_at_latent(model.eval())
    z = cuts.codes(name, encoder(x), widths)
    return decoder(z.reshape(-1, td.width)).reshape(len(widths), *x.shape)


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
