"""The training-efficiency benchmark: its FLOP count against hand counts, and one short run as a
user would start it (so it cannot rot); no timing thresholds."""

from __future__ import annotations

import subprocess
import sys

import torch
from torch import nn

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from train_efficiency import forward_flops  # noqa: E402


def test_flops_are_counted_from_the_layer_shapes():
    linear = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    flops, biggest = forward_flops(linear, torch.rand(3, 10))
    assert flops == 2 * 3 * (10 * 20 + 20 * 5) and biggest == (3, 10, 20)
    conv = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ConvTranspose2d(4, 1, 4, stride=2))
    flops, _ = forward_flops(conv, torch.rand(1, 2, 8, 8))
    # Conv2d: 4 x 8 x 8 outputs, each 2 x 3 x 3 multiply-adds; the transpose: every one of its
    # 4 x 8 x 8 inputs meets its 1 x 4 x 4 kernel.
    assert flops == 2 * (4 * 64 * 2 * 9) + 2 * (4 * 64 * 1 * 16)


def test_the_benchmark_prints_a_ratio_per_model():
    out = subprocess.run(
        [sys.executable, "benchmarks/train_efficiency.py", "--steps", "1"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [r[0] for r in rows] == ["fashion_mlp", "fashion_conv", "fashion_head"]
    assert all(0 < float(r[-1]) < 2 for r in rows)  # a fraction of the measured matmul peak
