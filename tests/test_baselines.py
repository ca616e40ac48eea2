"""PCA baseline: error falls with width and vanishes at the data's rank."""

import numpy as np

from tridrop.families.autoencoder.baselines import pca_fit, pca_mse, pca_reconstructions


def test_pca_error_falls_and_reaches_zero_at_the_rank():
    rng = np.random.default_rng(0)
    basis = rng.random((3, 16))
    x = (rng.random((200, 3)) @ basis) / 3.0  # rank 3 (after centring), values in [0, 1]
    mse = pca_mse(x[:150], x[150:], 6)
    assert (np.diff(mse[:3]) < 0).all()
    assert mse[2] < 1e-20 and np.allclose(mse[3:], mse[2])


def test_pca_reconstructions_are_what_the_mse_measures():
    rng = np.random.default_rng(1)
    x = rng.random((120, 1, 4, 4))
    pca = pca_fit(x[:100], 5)
    rec = pca_reconstructions(pca, x[100:], [1, 3, 5])
    assert rec.shape == (3, 20, 1, 4, 4) and rec.min() >= 0 and rec.max() <= 1
    mse = pca_mse(x[:100], x[100:], 5, pca=pca)
    np.testing.assert_allclose(((rec - x[100:][None]) ** 2).mean((1, 2, 3, 4)), mse[[0, 2, 4]])
