"""Feature importance and dependence against a naive loop over removed units; the
directional (gating) dependence against models built to have, or not have, a direction."""

import copy
import logging

import pandas as pd
import torch
from torch import nn

from tridrop.data import load_digits_split
from tridrop.dropout import TriangularDropout
from tridrop.families.autoencoder.analysis import (
    gating_dependence,
    importance_and_dependence,
    lower_share,
    tidy_features,
)
from tridrop.families.autoencoder.models import mlp_autoencoder, split_at_latent
from tridrop.specs import TrainSpec
from tridrop.train import fit


def decode_without(model, x, removed):
    encoder, td, decoder = split_at_latent(model.eval())
    z = encoder(x).clone()
    z[:, list(removed)] = 0
    return decoder(z).flatten(1)


def test_matches_a_naive_loop():
    torch.manual_seed(0)
    model = mlp_autoencoder((1, 4, 4), 12, 5).eval()
    x = torch.rand(23, 1, 4, 4)
    # A tiny element budget forces several image chunks.
    imp, dep = importance_and_dependence(model, x, max_elements=600)
    with torch.no_grad():
        full = decode_without(model, x, [])
        mse = ((full - x.flatten(1)) ** 2).mean()
        for k in range(5):
            d = decode_without(model, x, [k])
            want = ((d - x.flatten(1)) ** 2).mean() - mse
            assert torch.isclose(imp[k].float(), want, atol=1e-6)
        for i in range(5):
            c_i = full - decode_without(model, x, [i])
            for j in range(5):
                if i == j:
                    assert torch.isnan(dep[i, j])
                    continue
                c_ij = decode_without(model, x, [j]) - decode_without(model, x, [i, j])
                want = ((c_ij - c_i) ** 2).sum() / (c_i**2).sum()
                assert torch.isclose(dep[i, j], want.double(), rtol=1e-4), (i, j)


def test_removing_a_unit_the_decoder_ignores_costs_nothing():
    torch.manual_seed(1)
    model = mlp_autoencoder((1, 4, 4), 8, 4).eval()
    with torch.no_grad():
        model[5].weight[:, 3] = 0  # the decoder's first Linear ignores unit 3
    imp, dep = importance_and_dependence(model, torch.rand(10, 1, 4, 4))
    assert imp[3] == 0 and (imp[:3] > 0).all()
    assert (dep[:3, 3] == 0).all()  # nothing depends on a unit that contributes nothing


def test_lower_share_and_tidy_rows_agree():
    dep = torch.tensor(
        [[float("nan"), 1.0, 0.0], [3.0, float("nan"), 0.0], [2.0, 2.0, float("nan")]]
    )
    assert lower_share(dep) == 7 / 8
    imp_df, dep_df = tidy_features(torch.tensor([3.0, 2.0, 1.0]), dep, "e", "td", 0)
    assert list(imp_df["unit"]) == [0, 1, 2] and len(dep_df) == 6
    assert lower_share(dep_df) == 7 / 8
    assert isinstance(dep_df, pd.DataFrame) and not dep_df["value"].isna().any()


# ------------------------------------------------------------------ why Dep was retired


def test_old_dependence_is_the_ratio_of_contributions():
    """``Dep[i, j] / Dep[j, i] = C_j / C_i`` on any decoder: the numerator is the symmetric
    interaction, so the direction of ``Dep`` is the order of the contribution energies."""
    torch.manual_seed(2)
    model = mlp_autoencoder((1, 4, 4), 12, 6).eval()
    x = torch.rand(40, 1, 4, 4)
    _, dep = importance_and_dependence(model, x)
    with torch.no_grad():
        full = decode_without(model, x, [])
        energy = torch.stack(
            [((full - decode_without(model, x, [k])) ** 2).sum() for k in range(6)]
        )
    for i in range(6):
        for j in range(6):
            if i != j:
                want = energy[j] / energy[i]
                assert torch.isclose(dep[i, j] / dep[j, i], want.double(), rtol=1e-4), (i, j)


# ------------------------------------------------------------------ gating dependence


class Pick(nn.Module):
    """The first ``width`` coordinates of a flat "image": the code of a constructed model."""

    def __init__(self, width):
        super().__init__()
        self.width = width

    def forward(self, x):
        return x[:, : self.width]


class Symmetric(nn.Module):
    """``sigmoid(sum_k s_k z_k v_k)``: units that act alike, with decreasing scales ``s_k``."""

    def __init__(self, width, pixels, scales, gen):
        super().__init__()
        self.v = torch.randn(width, pixels, generator=gen) * scales[:, None]

    def forward(self, z):
        return torch.sigmoid(z @ self.v)


class Independent(nn.Module):
    """``sum_k s_k tanh(z_k) v_k``: nonlinear units that do not interact at all."""

    def __init__(self, width, pixels, scales, gen):
        super().__init__()
        self.v = torch.randn(width, pixels, generator=gen) * scales[:, None]

    def forward(self, z):
        return torch.tanh(z) @ self.v


class Gated(nn.Module):
    """``sum_k g_k(z_<k) s_k z_k v_k``: unit k is switched by the units before it (the gate
    ``g_k = sigmoid(u_k . z_<k)``), never by those after it; ``v_k`` orthonormal."""

    def __init__(self, width, pixels, scales, gen, reverse=False):
        super().__init__()
        self.v = torch.linalg.qr(torch.randn(pixels, width, generator=gen))[0].T * scales[:, None]
        self.u = 2 * torch.randn(width, width, generator=gen).tril(-1)
        self.reverse = reverse

    def forward(self, z):
        if self.reverse:  # the same decoder with its units numbered backwards
            z = z.flip(1)
        gates = torch.sigmoid(z @ self.u.T)
        gates[:, 0] = 1
        return (gates * z) @ self.v


class Reshaped(nn.Module):
    """``y_{k+1} = y_k + s_k z_k v_k * sigmoid(4 y_k)``: unit k draws where units < k drew."""

    def __init__(self, width, pixels, scales, gen):
        super().__init__()
        self.v = torch.randn(width, pixels, generator=gen).abs() * (scales[:, None] / pixels**0.5)

    def forward(self, z):
        y = z[:, :1] * self.v[0]
        for k in range(1, len(self.v)):
            y = y + z[:, k : k + 1] * self.v[k] * torch.sigmoid(4 * y)
        return y


def constructed(kind, seed, width=16, pixels=64, decay=0.8, n=300, **kw):
    """A model (a code picked from the "image", a decoder ``kind``) and its images."""
    gen = torch.Generator().manual_seed(seed)
    scales = 2.0 * decay ** torch.arange(width, dtype=torch.float32)
    decoder = kind(width, pixels, scales, gen, **kw)
    model = nn.Sequential(Pick(width), TriangularDropout(width, "none"), decoder)
    z = torch.randn(n, width, generator=gen)
    return model, torch.cat([z, torch.zeros(n, pixels - width)], 1)


def naive_gating(model, x, step=0.5):
    """The docstring's formula, one pair and one image batch at a time."""
    encoder, _, decoder = split_at_latent(model.eval())
    with torch.no_grad():
        z = encoder(x)
        width = z.shape[1]
        sd = step * z.std(0, correction=0)

        def dec(c):
            return decoder(c).flatten(1).double()

        eye = torch.eye(width)
        size = [
            (((dec(z + sd[k] * eye[k]) - dec(z - sd[k] * eye[k])) / 2) ** 2).sum()
            for k in range(width)
        ]
        g = torch.zeros(width, width, dtype=torch.float64)
        for i in range(width):
            for j in range(i + 1, width):
                small = min(size[i], size[j])
                a = sd[i] * eye[i] * (small / size[i]).sqrt().float()
                b = sd[j] * eye[j] * (small / size[j]).sqrt().float()
                base = z.clone()
                base[:, [i, j]] = 0
                pp, pm, mp, mm = (
                    dec(base + u * a + v * b) for u, v in ((1, 1), (1, -1), (-1, 1), (-1, -1))
                )
                inter = (pp - pm - mp + mm) / 4
                for k, effect in ((i, (pp + pm - mp - mm) / 4), (j, (pp - pm + mp - mm) / 4)):
                    other = j if k == i else i
                    g[k, other] = ((inter * effect).sum(1) ** 2 / (effect**2).sum(1)).sum()
        split = g / (g + g.T)
        split.fill_diagonal_(float("nan"))
        return split


def spread(model, factor=20.0):
    """The model with its code spread ``factor`` times wider (a fresh one's is ~0.05 wide,
    too little to cross its ReLUs' kinks: float rounding would swamp the interactions)."""
    with torch.no_grad():
        model[3].weight *= factor
        model[3].bias *= factor
    return model.eval()


def test_gating_matches_the_formula():
    torch.manual_seed(3)
    model = spread(mlp_autoencoder((1, 4, 4), 12, 5))
    x = torch.rand(23, 1, 4, 4)
    share, split = gating_dependence(model, x, max_elements=900)  # several image chunks
    want = naive_gating(model, x)
    off = ~torch.eye(5, dtype=torch.bool)
    assert torch.allclose(split[off], want[off], rtol=1e-3, atol=1e-5)
    assert torch.allclose(split[off] + split.T[off], torch.ones(20, dtype=torch.float64))
    assert share == float(split[torch.ones(5, 5, dtype=torch.bool).tril(-1)].mean())


def test_gating_does_not_see_a_units_scale():
    """Rescaling one unit's code (and its decoder column inversely) changes no split."""
    torch.manual_seed(4)
    model = spread(mlp_autoencoder((1, 4, 4), 12, 5))
    x = torch.rand(30, 1, 4, 4)
    rescaled = copy.deepcopy(model)
    with torch.no_grad():
        rescaled[3].weight[2] *= 10
        rescaled[3].bias[2] *= 10
        rescaled[5].weight[:, 2] /= 10
    share, split = gating_dependence(model, x)
    share2, split2 = gating_dependence(rescaled, x)
    off = ~torch.eye(5, dtype=torch.bool)
    assert not split[off].isnan().any()
    assert torch.allclose(split[off], split2[off], atol=1e-3) and abs(share - share2) < 1e-3


def test_units_that_act_alike_with_decreasing_scales_have_no_direction():
    """The old measure calls a decoder that treats its units alike lower-triangular because
    their scales fall; the gating share stays at 0.5."""
    shares = []
    for seed in range(3):
        model, x = constructed(Symmetric, seed)
        _, dep = importance_and_dependence(model, x)  # its importance: MSE against no target
        assert lower_share(dep) > 0.8
        shares.append(gating_dependence(model, x)[0])
    assert max(shares) <= 0.55 and sum(shares) / 3 <= 0.53, shares  # seen: 0.51, 0.54, 0.50


def test_units_that_do_not_interact_have_no_direction():
    model, x = constructed(Independent, 0)
    share, split = gating_dependence(model, x)
    assert share == 0.5 and split.isnan().all()


def test_an_autoencoder_without_td_sorted_by_importance_has_no_direction():
    """Trained without TD, then renumbered by importance: the old share says 0.6+, the gating
    share 0.5."""
    logging.disable(logging.WARNING)
    try:
        split = load_digits_split()
        torch.manual_seed(0)
        model = mlp_autoencoder((1, 8, 8), 32, 16, "none")
        fit(
            model,
            split.x_train[:400],
            split.y_train[:400],
            TrainSpec(epochs=40, lr=5e-3, device="cpu"),
        )
    finally:
        logging.disable(logging.NOTSET)
    x = split.x_test[:200]
    imp, _ = importance_and_dependence(model, x)
    order = torch.argsort(imp, descending=True)
    with torch.no_grad():  # renumber the latent units: rows of the layer before, columns after
        model[3].weight.copy_(model[3].weight[order].clone())
        model[3].bias.copy_(model[3].bias[order].clone())
        model[5].weight.copy_(model[5].weight[:, order].clone())
    imp, dep = importance_and_dependence(model, x)
    assert (imp[1:] <= imp[:-1]).all()
    assert lower_share(dep) > 0.6
    assert gating_dependence(model, x)[0] <= 0.55


def test_units_switched_by_the_units_before_them_have_a_direction():
    """Unit k gated by units < k: mostly below the diagonal; numbered backwards, above."""
    model, x = constructed(Gated, 0)
    share, split = gating_dependence(model, x)
    assert share > 0.8
    assert (split.tril(-1).nan_to_num() > 0.5).sum() > 0.8 * 120
    model, x = constructed(Gated, 0, reverse=True)
    assert gating_dependence(model, x)[0] < 0.2


def test_reshaping_by_the_earlier_output_is_not_seen():
    """A limit, documented: unit k's effect reshaped pixel by pixel by the output of units < k
    is an elementwise product of the two effects to second order, symmetric, so it reads 0.5."""
    model, x = constructed(Reshaped, 0)
    assert abs(gating_dependence(model, x)[0] - 0.5) < 0.03
