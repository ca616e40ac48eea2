"""The feature cache: fp16 shards read back memory-mapped, gathers, order, completeness."""

from pathlib import Path

import numpy as np
import pytest
import torch

from tridrop.families.head.feature_cache import (
    FeatureCache,
    read_index,
    shard_done,
    write_index,
    write_shard,
)


def make_cache(root: Path, sizes=(5, 7, 3), dim=6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(sum(sizes), dim)).astype(np.float32)
    y = rng.integers(0, 4, size=sum(sizes))
    start = 0
    for k, n in enumerate(sizes):
        write_shard(root, k, x[start : start + n], y[start : start + n])
        start += n
    write_index(root, list(sizes), dim, {"classes": ["a", "b", "c", "d"], "backbone_params": 0})
    return x, y


@pytest.mark.parametrize("in_memory", [True, False])
def test_rows_come_back_in_fp16_in_any_order(tmp_path: Path, in_memory: bool):
    x, y = make_cache(tmp_path)
    cache = FeatureCache(tmp_path, in_memory=in_memory)
    assert len(cache) == 15 and cache.dim == 6
    assert torch.equal(cache.labels, torch.from_numpy(y))
    expect = torch.from_numpy(x.astype(np.float16).astype(np.float32))
    idx = torch.tensor([14, 0, 6, 5, 4, 12, 6])  # across shards, unsorted, repeated
    assert torch.equal(cache[idx], expect[idx])
    got = torch.cat([b for b, _ in cache.batches(4)])
    assert torch.equal(got, expect)
    assert torch.equal(torch.cat([lab for _, lab in cache.batches(4)]), cache.labels)


def test_shards_are_stored_as_fp16_and_memory_mapped(tmp_path: Path):
    make_cache(tmp_path)
    assert np.load(tmp_path / "features_00001.npy").dtype == np.float16
    assert read_index(tmp_path)["rows"] == 15
    cache = FeatureCache(tmp_path, in_memory=False)
    assert all(isinstance(m, np.memmap) for m in cache._maps)


def test_an_incomplete_cache_is_refused(tmp_path: Path):
    write_shard(tmp_path, 0, np.zeros((2, 3)), np.zeros(2))
    assert shard_done(tmp_path, 0) and not shard_done(tmp_path, 1)
    with pytest.raises(FileNotFoundError, match="shard 1 is missing"):
        write_index(tmp_path, [2, 2], 3, {})
    with pytest.raises(FileNotFoundError, match="incomplete"):
        FeatureCache(tmp_path)
