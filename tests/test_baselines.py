"""PCA baseline: error falls with width and vanishes at the data's rank."""

import numpy as np

from tridrop.families.autoencoder.baselines import pca_mse


def test_pca_error_falls_and_reaches_zero_at_the_rank():
    rng = np.random.default_rng(0)
    basis = rng.random((3, 16))
    x = (rng.random((200, 3)) @ basis) / 3.0  # rank 3 (after centring), values in [0, 1]
    mse = pca_mse(x[:150], x[150:], 6)
    assert (np.diff(mse[:3]) < 0).all()
    assert mse[2] < 1e-20 and np.allclose(mse[3:], mse[2])
