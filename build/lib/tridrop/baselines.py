"""Baselines on the same axes as Triangular Dropout that are not trained variants.

Autoencoders: PCA fitted on the training images gives, for each width k, the best
reconstruction from k linear features in the MSE sense; a nonlinear autoencoder should beat it.
Classifier heads: the reference (unconstrained) head at full width, cut after reordering its
units by an importance score, and replaced by truncated SVDs at matched parameter counts.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tridrop.evaluation import head_topk, tidy_at, topk_correct
from tridrop.feature_cache import FeatureCache
from tridrop.models.head import (
    count_params,
    head_params,
    importance_order,
    load_head,
    permute_units,
    svd_head,
    svd_rank_for,
)
from tridrop.tables import METRICS, params_frame
from tridrop.train import resolve_device

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


@torch.no_grad()
def head_baselines(
    reference: str | Path,
    train_features: str | Path,
    val_features: str | Path,
    *,
    widths: list[int],
    experiment: str,
    rank_samples: int = 10000,
    device: str = "auto",
    batch_size: int = 1024,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference head at full width, cut by importance ranking, and its truncated SVDs.

    Units are ranked on up to ``rank_samples`` training rows (never the validation set). The
    SVD head at width w has the largest rank whose parameter count does not exceed the TD
    head's at w; widths where no rank fits are left out.
    """
    dev = resolve_device(device)
    val = FeatureCache(val_features, dev)
    train = FeatureCache(train_features, dev, in_memory=False)
    ref = load_head(reference, dev, val.dim)
    in_f, hidden, classes = ref[0].in_features, ref[0].out_features, ref[-1].out_features
    full = head_params(in_f, hidden, hidden, classes)
    backbone = val.meta["backbone_params"]
    frames, params = [], []

    def add(name, ws, values, counts):
        for i, m in enumerate(METRICS):
            frames.append(tidy_at([v[i] for v in values], ws, experiment, name, 0, m))
        params.append(params_frame(experiment, name, ws, counts, full, backbone))

    top = head_topk(ref, val.batches(batch_size), [hidden])[0].tolist()
    add("reference", [hidden], [top], [full])

    gen = torch.Generator().manual_seed(0)
    pick = torch.randperm(len(train), generator=gen)[: min(rank_samples, len(train))].sort().values
    ranked = load_head(reference, dev)
    permute_units(ranked, *importance_order(ranked, train[pick]))
    ws = [w for w in widths if w <= hidden]
    acc = head_topk(ranked, val.batches(batch_size), ws)
    add("ranked", ws, acc.tolist(), [head_params(in_f, w, w, classes) for w in ws])

    svd_ws, svd_vals, svd_counts = [], [], []
    for w in ws:
        rank = svd_rank_for(in_f, hidden, classes, head_params(in_f, w, w, classes))
        if rank == 0:
            continue
        small = svd_head(ref, rank).to(dev)
        correct = sum(topk_correct(small(x), y) for x, y in val.batches(batch_size))
        svd_ws.append(w)
        svd_vals.append((correct / len(val)).tolist())
        svd_counts.append(count_params(small))
        log.info(
            "svd at width %d: rank %d, %d parameters, top-1 %.4f",
            w,
            rank,
            svd_counts[-1],
            svd_vals[-1][0],
        )
    if svd_ws:
        add("svd", svd_ws, svd_vals, svd_counts)
    return pd.concat(frames, ignore_index=True), pd.concat(params, ignore_index=True)
