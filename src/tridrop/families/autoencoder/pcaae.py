"""PCAAE (Pham, Ladjal, Newson, "PCA Autoencoder", JMIV 2022): latent units one at a time.

Stage k trains a new encoder E_k with a one-unit output followed by a non-affine BatchNorm
(zero mean, unit variance over the batch) and a new decoder D_k that reads ``z_1..z_k``; the
earlier encoders are frozen. The loss is the reconstruction error plus ``cov_weight`` times
the mean over i < k of ``(batch mean of z_i z_k)^2``, which decorrelates the new unit from the
earlier ones. Width k is evaluated with its own decoder D_k, an advantage TD does not have.
Encoders and decoders follow the experiment's MLP (``Linear-ReLU-Linear``).

Where this departs from the authors' code (``chieupham/PCAAE``): the reconstruction error is
the MSE (theirs defaults to binary cross-entropy), the networks are the experiment's MLP
(theirs are conv nets for 64x64 images), and frozen encoders run in eval mode, so their
BatchNorm uses its running statistics and stops updating them (theirs stay in train mode and
keep normalising with batch statistics); their codes are then fixed and computed once per
stage instead of once per step.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

import torch
from torch import nn

from tridrop.families.autoencoder.specs import PCAAETrain
from tridrop.specs import dump
from tridrop.train import fit

log = logging.getLogger(__name__)


def encoder(shape: tuple[int, ...], hidden: int) -> nn.Sequential:
    """E_k: image to one unit, normalised over the batch (BatchNorm without affine)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(shape), hidden),
        nn.ReLU(),
        nn.Linear(hidden, 1),
        nn.BatchNorm1d(1, affine=False),
    )


def decoder(shape: tuple[int, ...], hidden: int, k: int) -> nn.Sequential:
    """D_k: the first k units to an image."""
    return nn.Sequential(
        nn.Linear(k, hidden),
        nn.ReLU(),
        nn.Linear(hidden, math.prod(shape)),
        nn.Sigmoid(),
        nn.Unflatten(1, tuple(shape)),
    )


class PCAAE(nn.Module):
    """The encoders E_1..E_K and decoders D_1..D_K of a PCAAE with K latent units."""

    def __init__(self, shape: tuple[int, ...], hidden: int, widths: int) -> None:
        super().__init__()
        self.shape, self.hidden, self.widths = tuple(shape), hidden, widths
        self.encoders = nn.ModuleList(encoder(shape, hidden) for _ in range(widths))
        self.decoders = nn.ModuleList(decoder(shape, hidden, k + 1) for k in range(widths))

    def encode(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """The codes ``z_1..z_k`` of ``x``, shape ``(B, k)`` (default all K)."""
        return torch.cat([e(x) for e in self.encoders[: k or self.widths]], 1)

    def forward(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """The reconstruction of ``x`` at width k by its own decoder D_k (default K)."""
        k = k or self.widths
        return self.decoders[k - 1](self.encode(x, k))


def cov_loss(z: torch.Tensor) -> torch.Tensor:
    """Mean over i < k of ``(mean_b z[b, i] z[b, k])^2`` for the last column k of ``z``."""
    if z.shape[1] < 2:
        return z.new_zeros(())
    return ((z[:, :-1] * z[:, -1:]).mean(0) ** 2).mean()


class _Stage(nn.Module):
    """Stage k: the new encoder and decoder, fed the frozen codes beside each image."""

    def __init__(self, enc: nn.Module, dec: nn.Module) -> None:
        super().__init__()
        self.enc, self.dec = enc, dec

    def forward(self, x: torch.Tensor, frozen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.cat([frozen, self.enc(x)], 1)
        return self.dec(z), z


def train_stage(
    model: PCAAE, x: torch.Tensor, spec: PCAAETrain, k: int, checkpoint=None
) -> list[dict[str, float]]:
    """Stage k: train E_k and D_k with E_1..E_{k-1} frozen (eval mode, no gradients)."""
    index = torch.arange(len(x), device=x.device)
    for e in model.encoders[: k - 1]:
        e.eval().requires_grad_(False)
    with torch.no_grad():
        chunks = [model.encode(c, k - 1) for c in x.split(1024)] if k > 1 else []
        frozen = torch.cat(chunks) if chunks else x.new_zeros(len(x), 0)
    stage = _Stage(model.encoders[k - 1], model.decoders[k - 1])

    def loss(net: nn.Module, idx: torch.Tensor, _y: torch.Tensor) -> torch.Tensor:
        recon, z = net(x[idx], frozen[idx])
        rec = nn.functional.mse_loss(recon.float(), x[idx].float())
        return rec + spec.cov_weight * cov_loss(z.float())

    cfg = replace(spec.train, seed=spec.train.seed * 1000 + k)  # a new batch order per stage
    betas = (spec.betas[0], spec.betas[1])
    tag = f"{dump(spec)}/stage{k}"
    records = fit(stage, index, index, cfg, loss, checkpoint=checkpoint, tag=tag, betas=betas)
    log.info("PCAAE stage %d/%d: final loss %.6g", k, model.widths, records[-1]["loss"])
    return [{**r, "stage": k} for r in records]


def train_pcaae(
    model: PCAAE, x: torch.Tensor, spec: PCAAETrain, checkpoints: list | None = None
) -> list[dict[str, float]]:
    """Train the K stages in turn; return every epoch's record, with its ``stage``."""
    if len(x) % spec.train.batch_size == 1:  # BatchNorm cannot normalise a batch of one
        raise ValueError(
            f"{len(x)} training images leave a last batch of one image; PCAAE's BatchNorm "
            "needs two: choose another batch_size"
        )
    history: list[dict[str, float]] = []
    for k in range(1, model.widths + 1):
        ckpt = None if checkpoints is None else checkpoints[k - 1]
        history += train_stage(model, x, spec, k, ckpt)
    model.eval().requires_grad_(True)
    return history


@torch.no_grad()
def pcaae_mse(model: PCAAE, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Test MSE per pixel at widths ``1..K``, each by its own decoder, shape ``(K,)``."""
    model.eval()
    total = torch.zeros(model.widths, dtype=torch.float64)
    for chunk in x.split(batch_size):
        z = model.encode(chunk)
        for k in range(1, model.widths + 1):
            err = (model.decoders[k - 1](z[:, :k]) - chunk) ** 2
            total[k - 1] += err.flatten(1).mean(1).sum().double().cpu()
    return total / len(x)
