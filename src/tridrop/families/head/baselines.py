"""Baselines of a classifier head that are not trained variants: the reference (unconstrained)
head at full width, cut after reordering its units by an importance score, and replaced by
truncated SVDs at matched parameter counts."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch

from tridrop.evaluation import tidy_at
from tridrop.families.head.evaluation import head_topk, topk_accuracy
from tridrop.families.head.feature_cache import FeatureCache
from tridrop.families.head.models import (
    count_params,
    head_params,
    importance_order,
    load_head,
    permute_units,
    svd_head,
    svd_rank_at,
)
from tridrop.families.head.tables import METRICS, params_frame
from tridrop.train import resolve_device

log = logging.getLogger(__name__)


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

    ranked = ranked_reference(reference, train, rank_samples, dev)
    ws = [w for w in widths if w <= hidden]
    acc = head_topk(ranked, val.batches(batch_size), ws)
    add("ranked", ws, acc.tolist(), [head_params(in_f, w, w, classes) for w in ws])

    svd_ws, svd_vals, svd_counts = [], [], []
    for w in ws:
        rank = svd_rank_at(in_f, hidden, classes, w)
        if rank == 0:
            continue
        small = svd_head(ref, rank).to(dev)
        svd_ws.append(w)
        svd_vals.append(topk_accuracy(small, val.batches(batch_size)))
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


def ranked_reference(
    reference: str | Path, train: FeatureCache, rank_samples: int, device: torch.device
) -> torch.nn.Sequential:
    """The reference head with its hidden units sorted by importance on up to ``rank_samples``
    training rows (the same rows for every caller: a fixed seed)."""
    gen = torch.Generator().manual_seed(0)
    pick = torch.randperm(len(train), generator=gen)[: min(rank_samples, len(train))].sort().values
    ranked = load_head(reference, device)
    permute_units(ranked, *importance_order(ranked, train[pick]))
    return ranked
