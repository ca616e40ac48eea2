"""PCA, the autoencoders' training-free baseline: fitted on the training images, it gives for
each width k the best reconstruction from k linear features in the MSE sense; a nonlinear
autoencoder should beat it."""

from __future__ import annotations

import numpy as np


def pca_mse(
    x_train: np.ndarray, x_test: np.ndarray, widths: int, max_fit: int = 20000
) -> np.ndarray:
    """Test MSE per pixel of PCA reconstructions from the first ``1..widths`` components.

    PCA is fitted on at most ``max_fit`` training images (CelebA's 162770 faces of 12288
    pixels would need 16 GB in float64; 20000 images pin the leading components down well).
    Reconstructions are clipped to [0, 1] like the autoencoders' sigmoid outputs.
    """
    from sklearn.decomposition import PCA

    a = x_train[:max_fit].reshape(min(len(x_train), max_fit), -1).astype(np.float64)
    b = x_test.reshape(len(x_test), -1).astype(np.float64)
    k_max = min(widths, *a.shape)
    # "auto" is exact for small data and randomized (seeded) for large images.
    pca = PCA(n_components=k_max, svd_solver="auto", random_state=0).fit(a)
    codes = pca.transform(b)
    out = np.empty(widths)
    for k in range(1, widths + 1):
        kk = min(k, k_max)  # beyond the rank every extra component is zero
        rec = codes[:, :kk] @ pca.components_[:kk] + pca.mean_
        out[k - 1] = ((rec.clip(0.0, 1.0) - b) ** 2).mean()
    return out
