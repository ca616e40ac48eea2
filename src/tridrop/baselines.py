"""Baselines that need no network: PCA, the optimal linear autoencoder at every width.

PCA fitted on the training images gives, for each width k, the best reconstruction from k
linear features in the MSE sense; it is the reference a nonlinear autoencoder should beat.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tridrop.data import load_split
from tridrop.sweep import tidy

log = logging.getLogger(__name__)


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


def sweep_pca(data: str | Path, *, experiment: str, widths: int) -> pd.DataFrame:
    """Tidy rows (model ``pca``, seed 0: PCA is deterministic) at widths ``1..widths``."""
    split = load_split(data)
    values = pca_mse(split.x_train.numpy(), split.x_test.numpy(), widths)
    log.info("PCA on %s: MSE %.4g at width 1, %.4g at width %d", data, values[0], values[-1],
             widths)  # fmt: skip
    return tidy(torch.from_numpy(values), experiment, "pca", 0, "mse")
