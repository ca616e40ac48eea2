"""Feature importance and dependence against a naive loop over removed units."""

import pandas as pd
import torch

from tridrop.families.autoencoder.analysis import (
    importance_and_dependence,
    lower_share,
    tidy_features,
)
from tridrop.families.autoencoder.models import mlp_autoencoder, split_at_latent


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
