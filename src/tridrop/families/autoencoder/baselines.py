"""PCA, the autoencoders' training-free baseline: fitted on the training images, it gives for
each width k the best reconstruction from k linear features in the MSE sense; a nonlinear
autoencoder should beat it."""

from __future__ import annotations

import numpy as np


def pca_fit(x_train: np.ndarray, widths: int, max_fit: int = 20000):
    """scikit-learn's PCA with up to ``widths`` components, fitted on at most ``max_fit``
    training images (CelebA's 162770 faces of 12288 pixels would need 16 GB in float64; 20000
    images pin the leading components down well)."""
    from sklearn.decomposition import PCA

    a = x_train[:max_fit].reshape(min(len(x_train), max_fit), -1).astype(np.float64)
    # "auto" is exact for small data and randomized (seeded) for large images.
    return PCA(n_components=min(widths, *a.shape), svd_solver="auto", random_state=0).fit(a)


def _rebuild(pca, codes: np.ndarray, k: int) -> np.ndarray:
    """Images (flat) from their first k PCA ``codes``, clipped to [0, 1] like the autoencoders'
    sigmoid outputs; beyond the rank every extra component is zero."""
    k = min(k, len(pca.components_))
    return (codes[:, :k] @ pca.components_[:k] + pca.mean_).clip(0.0, 1.0)


def pca_reconstructions(pca, x: np.ndarray, widths: list[int]) -> np.ndarray:
    """Reconstructions of ``x`` from the first w components of ``pca`` for each w, shape
    ``(len(widths), *x.shape)``."""
    codes = pca.transform(x.reshape(len(x), -1).astype(np.float64))
    return np.stack([_rebuild(pca, codes, w).reshape(x.shape) for w in widths])


def pca_mse(
    x_train: np.ndarray, x_test: np.ndarray, widths: int, max_fit: int = 20000, pca=None
) -> np.ndarray:
    """Test MSE per pixel of PCA reconstructions from the first ``1..widths`` components
    (``pca``, or fitted by :func:`pca_fit`)."""
    pca = pca_fit(x_train, widths, max_fit) if pca is None else pca
    b = x_test.reshape(len(x_test), -1).astype(np.float64)
    codes = pca.transform(b)
    return np.array([((_rebuild(pca, codes, k) - b) ** 2).mean() for k in range(1, widths + 1)])
