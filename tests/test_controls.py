"""No TD's training-free cuts (mean-fill, PCA-rotated, greedy order) and the order-at-the-top
measures, on linear autoencoders whose answers are known: with an orthonormal encoder ``U^T``
and decoder ``U``, keeping units S of data in U's span costs the variance of the units left out.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from tridrop.dropout import TriangularDropout
from tridrop.evaluation import COLUMNS
from tridrop.families.autoencoder.analysis import (
    adjacent_ordered,
    importance_and_dependence,
    order_at_the_top,
    tidy_order,
)
from tridrop.families.autoencoder.evaluation import (
    CONTROLS,
    Cuts,
    code_pca,
    controls_mse,
    cut_reconstructions,
    greedy_order,
    latent_mse,
    ordered_mse,
    pca_cut_mse,
)
from tridrop.families.autoencoder.models import mlp_autoencoder

PIXELS, WIDTH = 10, 4


def basis(seed: int = 0) -> torch.Tensor:
    """An orthonormal ``(PIXELS, WIDTH)`` basis."""
    g = torch.Generator().manual_seed(seed)
    return torch.linalg.qr(torch.randn(PIXELS, WIDTH, generator=g))[0]


def linear_ae(u: torch.Tensor) -> nn.Sequential:
    """Encoder ``x -> U^T x``, decoder ``z -> U z``: a linear autoencoder of images (1, P)."""
    enc, dec = nn.Linear(PIXELS, WIDTH, bias=False), nn.Linear(WIDTH, PIXELS, bias=False)
    with torch.no_grad():
        enc.weight.copy_(u.T)
        dec.weight.copy_(u)
    layers = (
        nn.Flatten(),
        enc,
        TriangularDropout(WIDTH, "none"),
        dec,
        nn.Unflatten(1, (1, PIXELS)),
    )
    return nn.Sequential(*layers).eval()


def images(u: torch.Tensor, std, mean=0.0, n: int = 4000, noise: float = 0.0, seed: int = 1):
    """Images ``U c`` with codes ``c ~ N(mean, diag(std^2))`` (plus noise off the span)."""
    g = torch.Generator().manual_seed(seed)
    c = mean + torch.randn(n, WIDTH, generator=g) * torch.tensor(std)
    x = c @ u.T + noise * torch.randn(n, PIXELS, generator=g)
    return x[:, None, :]


def test_ordered_mse_in_index_order_is_the_width_sweep():
    torch.manual_seed(0)
    ae, x = mlp_autoencoder((1, 4, 4), 12, 5).eval(), torch.rand(37, 1, 4, 4)
    torch.testing.assert_close(ordered_mse(ae, x, range(5), batch_size=10), latent_mse(ae, x))
    # A permuted order keeps those units: width 1 of order [3, ...] keeps unit 3 alone.
    z = ae[:4](x)
    z[:, [0, 1, 2, 4]] = 0
    want = ((ae[5:](z) - x) ** 2).mean().double()
    torch.testing.assert_close(ordered_mse(ae, x, [3, 0, 1, 2, 4], widths=1)[0], want)
    with pytest.raises(ValueError, match="distinct units"):
        ordered_mse(ae, x, [0, 0, 1])


def test_mean_fill_beats_zero_fill_when_codes_have_a_mean():
    u = basis()
    ae = linear_ae(u)
    std = [2.0, 1.5, 1.0, 0.5]
    train, test = images(u, std, mean=3.0), images(u, std, mean=3.0, n=500, seed=2, noise=0.1)
    found, _ = controls_mse(ae, train, test, greedy_images=500)
    zero = latent_mse(ae, test)
    assert (found["meanfill"][:-1] < 0.5 * zero[:-1]).all()
    # Every cut keeps the whole code at full width: the model's own full-width MSE.
    for values in found.values():
        torch.testing.assert_close(values[-1], zero[-1])


def test_pca_rotated_cut_is_pca_for_a_linear_autoencoder():
    u = basis()
    ae = linear_ae(u)
    g = torch.Generator().manual_seed(3)
    mix = torch.randn(WIDTH, WIDTH, generator=g)  # correlated units: PCA rotates them
    c = 0.5 + torch.randn(3000, WIDTH, generator=g) @ mix
    train = (c @ u.T)[:, None, :]
    test = images(u, [1.0, 1.0, 1.0, 1.0], mean=0.5, n=300, noise=0.2, seed=4)
    mean, components = code_pca(ae[:2](train))
    got = pca_cut_mse(ae, test, mean, components)
    # PCA of the images themselves, fitted on the same training images.
    a, b = train.flatten(1).double().numpy(), test.flatten(1).double().numpy()
    mu = a.mean(0)
    vt = np.linalg.svd(a - mu, full_matrices=False)[2]
    want = [((mu + (b - mu) @ vt[:k].T @ vt[:k] - b) ** 2).mean() for k in range(1, WIDTH + 1)]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4)
    found, _ = controls_mse(ae, train, test)
    torch.testing.assert_close(found["pca"], got)


def test_greedy_orders_units_by_what_they_cost():
    u = basis()
    ae = linear_ae(u)
    std = [0.5, 3.0, 1.0, 2.0]  # unit 1 matters most, then 3, 2, 0
    x = images(u, std)
    order, mse = greedy_order(ae, x)
    assert order == [1, 3, 2, 0]
    assert (mse[1:] < mse[:-1]).all() and mse[-1] < 1e-10
    # Fitted on training images, the order carries to the test images.
    found, order = controls_mse(ae, x, images(u, std, n=500, seed=5), greedy_images=300)
    assert order == [1, 3, 2, 0]
    assert (found["greedy"][:-1] < found["meanfill"][:-1]).all()
    # Steps stop early; the best single unit by its own MSE.
    assert greedy_order(ae, x, steps=2)[0] == [1, 3]


def test_each_cuts_reconstructions_are_what_its_mse_measures():
    """The figure's row of a cut shows the images its MSE row scores, at any widths."""
    u = basis()
    ae = linear_ae(u)
    g = torch.Generator().manual_seed(6)
    c = 0.5 + torch.randn(800, WIDTH, generator=g) @ torch.randn(WIDTH, WIDTH, generator=g)
    train, test = (c @ u.T)[:, None, :], images(u, [0.5, 3.0, 1.0, 2.0], n=50, noise=0.1)
    cuts = Cuts.fit(ae, train, greedy_images=300)
    found = cuts.mse(ae, test)
    for name in CONTROLS:
        rec = cut_reconstructions(ae, test, [3, 1], cuts, name)
        assert rec.shape == (2, *test.shape)
        got = ((rec - test[None]) ** 2).flatten(1).mean(1).double()
        torch.testing.assert_close(got, found[name][[2, 0]], rtol=1e-4, atol=1e-9)


def test_prefix_optimality_is_one_for_units_in_greedy_order_and_above_for_reversed():
    u = basis()
    x = images(u, [3.0, 2.0, 1.0, 0.5], n=600)
    ae = linear_ae(u)
    imp, _ = importance_and_dependence(ae, x)
    top = order_at_the_top(ae, x, imp, reordered=True)
    ratio, adjacent = top[""]
    torch.testing.assert_close(ratio, torch.ones(WIDTH, dtype=torch.float64))
    assert adjacent == 1.0
    # The same units reversed: the prefix holds the weakest units, until it holds all.
    backwards = images(u.flip(1), [0.5, 1.0, 2.0, 3.0], n=600)
    rev = linear_ae(u.flip(1))
    imp, _ = importance_and_dependence(rev, backwards)
    top = order_at_the_top(rev, backwards, imp, reordered=True)
    ratio, adjacent = top[""]
    assert (ratio[:-1] > 2).all() and ratio[-1] == pytest.approx(1.0)
    assert adjacent == 0.0
    # Re-sorted by importance, the control recovers the greedy order.
    ratio, adjacent = top["sorted"]
    torch.testing.assert_close(ratio, torch.ones(WIDTH, dtype=torch.float64))
    assert adjacent == 1.0


def test_adjacent_ordered_counts_pairs_among_the_first_units():
    assert adjacent_ordered(torch.tensor([5.0, 4.0, 3.0])) == 1.0
    assert adjacent_ordered(torch.tensor([1.0, 3.0, 2.0, 0.0])) == pytest.approx(2 / 3)
    assert adjacent_ordered(torch.tensor([2.0, 2.0])) == 0.0  # a tie is not ordered
    # Only the first `top` units count: the rest may be in any order.
    assert adjacent_ordered(torch.tensor([8.0, 7, 6, 5, 4, 3, 2, 1, 9, 10])) == 1.0
    assert adjacent_ordered(torch.tensor([8.0, 7, 6, 5, 4, 3, 2, 1, 9, 10]), top=10) == 7 / 9
    assert np.isnan(adjacent_ordered(torch.tensor([1.0])))


def test_tidy_order_rows():
    df = tidy_order(torch.tensor([1.0, 1.5]), 0.5, "e", "notd_sorted", 2)
    assert list(df.columns) == COLUMNS
    want = pd.DataFrame(
        {
            "width": [1, 2, 2],
            "metric": ["prefix_optimality", "prefix_optimality", "adjacent_ordered"],
            "value": [1.0, 1.5, 0.5],
        }
    )
    pd.testing.assert_frame_equal(df[["width", "metric", "value"]], want)
    assert set(df["model"]) == {"notd_sorted"} and set(df["seed"]) == {2}
