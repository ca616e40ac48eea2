"""The batched width sweep equals evaluating each narrowed dense network on its own."""

import torch

from tridrop.evaluation import COLUMNS, tidy
from tridrop.extract import narrow
from tridrop.families.autoencoder.evaluation import latent_mse, reconstructions
from tridrop.families.autoencoder.models import mlp_autoencoder, split_at_latent


def model():
    torch.manual_seed(0)
    return mlp_autoencoder((1, 4, 4), 12, 5).eval()


def test_sweep_equals_narrowed_networks():
    ae, x = model(), torch.rand(37, 1, 4, 4)
    mse = latent_mse(ae, x, batch_size=10)  # several chunks, the last one partial
    for w in range(1, 6):
        small = narrow(ae, w)
        expect = ((small(x) - x) ** 2).mean().double()
        torch.testing.assert_close(mse[w - 1], expect, rtol=1e-5, atol=1e-7)


def test_reconstructions_equal_the_masked_model():
    ae, x = model(), torch.rand(4, 1, 4, 4)
    rec = reconstructions(ae, x, [1, 3, 5])
    for i, w in enumerate([1, 3, 5]):
        split_at_latent(ae)[1].set_width(w)
        torch.testing.assert_close(rec[i], ae(x))


def test_tidy_rows():
    df = tidy(torch.tensor([3.0, 2.0, 1.0]), "digits", "td", 2, "mse")
    assert list(df.columns) == COLUMNS
    assert df["width"].tolist() == [1, 2, 3] and df["value"].tolist() == [3.0, 2.0, 1.0]
    assert set(df["seed"]) == {2} and set(df["model"]) == {"td"}
