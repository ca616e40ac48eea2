"""Feature caches: the fixed inputs of a classifier head, in fp16 shards read memory-mapped.

A cache is a folder holding, per shard k, ``features_{k:05d}.npy`` (float16, ``(n, dim)``) and
``labels_{k:05d}.npy`` (int64, ``(n,)``), and ``index.json`` (dim, rows per shard, classes and
what produced the features). Shards are written atomically one at a time, so an interrupted
writer resumes at the first missing shard; the index is written last and marks the cache whole.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

INDEX = "index.json"
IN_MEMORY_BYTES = 1 << 30  # caches below this (as float32) are held as one tensor on the device


def shard_paths(root: str | Path, k: int) -> tuple[Path, Path]:
    """The features and labels files of shard ``k``."""
    root = Path(root)
    return root / f"features_{k:05d}.npy", root / f"labels_{k:05d}.npy"


def shard_done(root: str | Path, k: int) -> bool:
    return all(p.exists() for p in shard_paths(root, k))


def write_shard(root: str | Path, k: int, features: np.ndarray, labels: np.ndarray) -> None:
    """Write shard ``k`` (features cast to fp16); the labels file, written last, marks it done."""
    if len(features) != len(labels):
        raise ValueError(f"shard {k}: {len(features)} feature rows but {len(labels)} labels")
    feats, labs = shard_paths(root, k)
    feats.parent.mkdir(parents=True, exist_ok=True)
    _save_npy(feats, np.ascontiguousarray(features, dtype=np.float16))
    _save_npy(labs, np.asarray(labels, dtype=np.int64))


def write_index(root: str | Path, sizes: list[int], dim: int, meta: dict) -> None:
    """Write ``index.json`` once every shard is on disk."""
    for k in range(len(sizes)):
        if not shard_done(root, k):
            raise FileNotFoundError(f"{root}: shard {k} is missing; the cache is incomplete")
    index = {"dim": dim, "rows": int(sum(sizes)), "shards": sizes, "dtype": "float16", **meta}
    tmp = Path(root) / (INDEX + ".tmp")
    tmp.write_text(json.dumps(index, indent=2) + "\n")
    os.replace(tmp, Path(root) / INDEX)


def read_index(root: str | Path) -> dict:
    path = Path(root) / INDEX
    if not path.exists():
        raise FileNotFoundError(f"{root}: no {INDEX}; the feature cache is missing or incomplete")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable feature-cache index ({err})") from None
    missing = [k for k in ("dim", "shards") if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise ValueError(f"{path}: not a feature-cache index (no {missing})")
    return meta


class FeatureCache:
    """A feature cache opened for training and evaluation.

    ``cache[idx]`` gathers rows (an index tensor) as float32 on ``device``: what
    :func:`tridrop.train.fit` needs of its inputs. Small caches are loaded once into a tensor
    on the device; large ones (ImageNet: 1.28M x 25088 fp16 is 64 GB) stay memory-mapped.
    """

    def __init__(
        self, root: str | Path, device: torch.device | str = "cpu", in_memory: bool | None = None
    ) -> None:
        self.root = Path(root)
        self.meta = read_index(root)
        self.dim = int(self.meta["dim"])
        self.device = torch.device(device)
        sizes = self.meta["shards"]
        self._maps = [np.load(shard_paths(root, k)[0], mmap_mode="r") for k in range(len(sizes))]
        self._offsets = np.cumsum([0, *sizes])
        labels = [np.load(shard_paths(root, k)[1]) for k in range(len(sizes))]
        self.labels = torch.from_numpy(np.concatenate(labels)).to(self.device)
        if in_memory is None:
            in_memory = self._offsets[-1] * self.dim * 4 <= IN_MEMORY_BYTES
        self._tensor = self._slice(0, len(self)).to(self.device) if in_memory else None

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        if self._tensor is not None:
            return self._tensor[idx.to(self.device)]
        rows = idx.cpu().numpy()
        order = np.argsort(rows, kind="stable")  # sorted reads are sequential within a shard
        shard = np.searchsorted(self._offsets, rows[order], side="right") - 1
        out = np.empty((len(rows), self.dim), dtype=np.float16)
        for k in np.unique(shard):
            sel = order[shard == k]
            out[sel] = self._maps[k][rows[sel] - self._offsets[k]]
        return torch.from_numpy(out).to(self.device).float()

    def _slice(self, start: int, stop: int) -> torch.Tensor:
        """Rows ``[start, stop)`` in order as float32 (contiguous reads, no gather)."""
        parts = []
        for k, m in enumerate(self._maps):
            lo, hi = max(start, self._offsets[k]), min(stop, self._offsets[k + 1])
            if lo < hi:
                parts.append(
                    torch.from_numpy(np.array(m[lo - self._offsets[k] : hi - self._offsets[k]]))
                )
        if not parts:
            return torch.empty(0, self.dim)
        return torch.cat(parts).float()

    def batches(self, batch_size: int = 1024) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``(features, labels)`` in order, on the device: the evaluation pass."""
        for start in range(0, len(self), batch_size):
            stop = min(start + batch_size, len(self))
            x = self._tensor[start:stop] if self._tensor is not None else self._slice(start, stop)
            yield x.to(self.device), self.labels[start:stop]


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)
