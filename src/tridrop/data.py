"""Datasets as tensors: load, split and store them as ``.npz`` files the training jobs read.

Images are float32 in [0, 1] with shape ``(N, C, H, W)``; labels are int64. The stored split is
the only thing later jobs see, so every model of a preset trains on exactly the same data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tridrop.files import atomic

log = logging.getLogger(__name__)

DATASETS = ("digits",)


@dataclass(frozen=True)
class Split:
    """Train and test tensors of one dataset."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def to(self, device: torch.device | str) -> Split:
        return Split(
            *(t.to(device) for t in (self.x_train, self.y_train, self.x_test, self.y_test))
        )


def load_digits_split(test_fraction: float = 0.2, seed: int = 0) -> Split:
    """scikit-learn's bundled 8x8 digits (1797 images, offline), pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return Split(*(torch.from_numpy(a) for a in (x_tr, y_tr, x_te, y_te)))


def prepare(dataset: str, out: str | Path, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Build the split of ``dataset`` and write it to ``out`` (atomically)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {DATASETS}")
    split = load_digits_split(test_fraction, seed)
    save_split(split, out)
    log.info(
        "%s: %d train, %d test images of shape %s -> %s",
        dataset,
        len(split.x_train),
        len(split.x_test),
        tuple(split.x_train.shape[1:]),
        out,
    )
    return split


def save_split(split: Split, path: str | Path) -> None:
    """Write a split as ``.npz``; a temporary name and a rename leave no half-written file."""
    arrays = {k: getattr(split, k).numpy() for k in ("x_train", "y_train", "x_test", "y_test")}
    with atomic(path) as tmp:
        np.savez(tmp, **arrays)


def load_split(path: str | Path) -> Split:
    """Read a split written by :func:`save_split` (no pickles are loaded)."""
    with np.load(path, allow_pickle=False) as f:
        return Split(*(torch.from_numpy(f[k]) for k in ("x_train", "y_train", "x_test", "y_test")))
