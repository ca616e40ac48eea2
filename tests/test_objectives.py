"""Matryoshka and sandwich-rule losses against per-width losses computed one by one."""

import torch
from torch import nn

from tridrop.families.autoencoder.models import mlp_autoencoder
from tridrop.families.autoencoder.objectives import (
    matryoshka_loss,
    nested_widths,
    passes,
    sandwich_loss,
)
from tridrop.families.autoencoder.specs import Objective


def loss_at(model, x: torch.Tensor, width: int) -> torch.Tensor:
    """The reconstruction MSE of the model cut to ``width`` (eval mode, its own mask)."""
    model.eval().set_width(width)
    out = nn.functional.mse_loss(model(x), x)
    model.set_width(None)
    return out


def test_nested_widths():
    assert nested_widths(16) == [1, 2, 4, 8, 16]
    assert nested_widths(12) == [1, 2, 4, 8, 12]
    assert nested_widths(1) == [1]


def test_matryoshka_loss_is_the_mean_of_the_per_width_losses():
    torch.manual_seed(0)
    model = mlp_autoencoder((1, 4, 4), 16, 6, mode="none")
    x = torch.rand(9, 1, 4, 4)
    loss = matryoshka_loss(model.train(), x, None)
    expected = torch.stack([loss_at(model, x, w) for w in (1, 2, 4, 6)]).mean()
    assert torch.allclose(loss, expected, atol=1e-6)


def test_sandwich_trains_full_and_smallest_width_and_distils_to_the_full_output():
    torch.manual_seed(0)
    model = mlp_autoencoder((1, 4, 4), 16, 6, mode="none")
    x = torch.rand(9, 1, 4, 4)
    plain = sandwich_loss(0, distill=False)(model.train(), x, None)
    full, one = loss_at(model, x, 6), loss_at(model, x, 1)
    assert torch.allclose(plain, (full + one) / 2, atol=1e-6)
    distilled = sandwich_loss(0, distill=True)(model.train(), x, None)
    with torch.no_grad():
        model.eval().set_width(6)
        teacher = model(x)
        model.set_width(1)
        to_teacher = nn.functional.mse_loss(model(x), teacher)
    assert torch.allclose(distilled, (full + (one + to_teacher) / 2) / 2, atol=1e-6)


def test_passes_count_the_decoder_runs_per_step():
    assert passes(Objective(), 16) == {"encoder": 1, "decoder": 1}
    assert passes(Objective("matryoshka"), 16)["decoder"] == 5
    assert passes(Objective("sandwich", sandwich_random=3), 16)["decoder"] == 5
