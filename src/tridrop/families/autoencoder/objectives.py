"""Training objectives of an autoencoder beyond the plain reconstruction error.

Each is a ``loss_fn(model, x, y)`` for :func:`tridrop.train.fit`. The width only changes the
latent code, so the encoder runs once per step and the decoder sees the code under every
prefix mask at once (stacked along the batch), as in :mod:`tridrop.evaluation`.

- Matryoshka (MRL-E, Kusupati et al. 2022, one shared decoder): the mean of the errors at the
  nested widths 1, 2, 4, ..., W, for every sample.
- Sandwich rule (US-Nets, Yu & Huang 2019): the mean of the errors at full width, width 1 and
  n random widths, the whole batch at each; with inplace distillation the narrow widths also
  fit the full width's (detached) output.
"""

from __future__ import annotations

import torch
from torch import nn

from tridrop.dropout import prefix_mask
from tridrop.families.autoencoder.models import split_at_latent
from tridrop.specs import Objective
from tridrop.train import LossFn, reconstruction_loss
from tridrop.width import nested_widths, sandwich_widths


def decode_at(model: nn.Sequential, x: torch.Tensor, widths: list[int]) -> torch.Tensor:
    """Reconstructions of ``x`` at each latent width, shape ``(len(widths), *x.shape)``.

    The encoder runs once (the TD layer's own training mask is bypassed); gradients flow.
    """
    encoder, td, decoder = split_at_latent(model)
    z = encoder(x)
    masks = prefix_mask(torch.tensor(widths, device=x.device), td.width, z.dtype)
    return decoder((masks[:, None, :] * z[None]).reshape(-1, td.width)).reshape(
        len(widths), *x.shape
    )


def matryoshka_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean over the nested widths 1, 2, 4, ..., W of the reconstruction MSE."""
    width = split_at_latent(model)[1].width
    out = decode_at(model, x, nested_widths(width)).float()
    return ((out - x.float()[None]) ** 2).mean()


def sandwich_loss(n_random: int, distill: bool) -> LossFn:
    """US-Nets' sandwich rule: full width, width 1 and ``n_random`` widths drawn uniformly.

    With ``distill`` the narrow widths' error is the mean of their error to the image and to
    the full width's output (detached, so the full width learns from the images only).
    """

    def loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        width = split_at_latent(model)[1].width
        out = decode_at(model, x, sandwich_widths(width, n_random)).float()
        target = x.float()[None]
        err = ((out - target) ** 2).flatten(1).mean(1)  # one error per width
        if distill:
            teacher = out[:1].detach()
            to_teacher = ((out[1:] - teacher) ** 2).flatten(1).mean(1)
            err = torch.cat([err[:1], (err[1:] + to_teacher) / 2])
        return err.mean()

    return loss


def loss_for(objective: Objective) -> LossFn:
    """The ``loss_fn`` of an objective."""
    if objective.loss == "matryoshka":
        return matryoshka_loss
    if objective.loss == "sandwich":
        return sandwich_loss(objective.sandwich_random, objective.distill)
    return reconstruction_loss


def passes(objective: Objective, width: int) -> dict[str, int]:
    """Encoder and decoder passes per training image per step (the training cost)."""
    decoder = {
        "plain": 1,
        "matryoshka": len(nested_widths(width)),
        "sandwich": 2 + objective.sandwich_random,
    }[objective.loss]
    return {"encoder": 1, "decoder": decoder}
