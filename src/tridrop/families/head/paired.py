"""TD against each control image by image: both classify the same test images, so their
difference is tested on the images where exactly one of them is right (McNemar's exact test:
a two-sided binomial test of those discordant images at one half)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import torch

from tridrop.families.head.evaluation import prefix_logits

PAIRED_COLUMNS = [
    "experiment",
    "model",
    "control",
    "width",
    "seed",
    "images",
    "top1",
    "control_top1",
    "only_model",
    "only_control",
    "p",
]


@torch.no_grad()
def correct_by_width(
    model: torch.nn.Sequential,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    widths: list[int],
) -> dict[int, np.ndarray]:
    """Whether each test image is classified right (top-1) by the head cut to each width."""
    model.eval()
    hits: list[list[torch.Tensor]] = [[] for _ in widths]
    for x, y in batches:
        for i, logits in enumerate(prefix_logits(model, x, widths)):
            hits[i].append(logits.argmax(1) == y)
    return {w: torch.cat(h).cpu().numpy() for w, h in zip(widths, hits, strict=True)}


@torch.no_grad()
def correct(model: torch.nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]):
    """Whether each test image is classified right (top-1) by any classifier."""
    model.eval()
    return torch.cat([model(x).argmax(1) == y for x, y in batches]).cpu().numpy()


def mcnemar(a: np.ndarray, b: np.ndarray) -> tuple[int, int, float]:
    """Images only ``a`` gets right, only ``b`` gets right, and the exact two-sided p-value of
    their split under "neither is better" (1.0 when they never disagree)."""
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    if only_a + only_b == 0:
        return only_a, only_b, 1.0
    from scipy.stats import binomtest  # here: only this job needs scipy

    return only_a, only_b, float(binomtest(only_a, only_a + only_b, 0.5).pvalue)


def paired_row(experiment, model, control, width, seed, a, b) -> tuple:
    """One row of :data:`PAIRED_COLUMNS`: ``a`` (the model) against ``b`` (the control)."""
    if a.shape != b.shape:
        raise ValueError(f"{model} and {control} scored {len(a)} and {len(b)} images")
    only_a, only_b, p = mcnemar(a, b)
    return (
        experiment,
        model,
        control,
        width,
        seed,
        len(a),
        float(a.mean()),
        float(b.mean()),
        only_a,
        only_b,
        p,
    )


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per control and width: the mean top-1 difference (model minus control) over seeds and
    the largest p-value over seeds (every seed's test must reject for a difference to stand)."""
    d = rows.assign(diff=rows["top1"] - rows["control_top1"])
    return d.groupby(["control", "width"], as_index=False).agg(
        diff=("diff", "mean"), p=("p", "max"), seeds=("seed", "nunique")
    )
