"""Benchmark: a narrowed model at width w vs the masked full model (CPU, one run).

Prints the time ratio masked / narrowed at w = W/8 and the narrowed model's time at several
widths (relative to full width), for an MLP head (the VGG19 head's shape, scaled down) and a
small convnet with TD on conv channels. Ratios only: absolute times depend on the machine.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from tridrop import SharedWidth, TriangularDropout, narrow, set_width


def head(width: int) -> nn.Module:
    return SharedWidth(
        nn.Linear(2048, width), nn.ReLU(), TriangularDropout(width),
        nn.Linear(width, width), nn.ReLU(), TriangularDropout(width), nn.Linear(width, 1000),
    )  # fmt: skip


def convnet(width: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
        TriangularDropout(width), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
        TriangularDropout(width), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10),
    )  # fmt: skip


@torch.no_grad()
def seconds(model: nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median wall time of one forward pass."""
    model(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def run(name: str, model: nn.Module, x: torch.Tensor, width: int, repeats: int) -> None:
    model.eval()
    start = time.perf_counter()
    small = narrow(model, width // 8)
    cut = time.perf_counter() - start
    set_width(model, width // 8)
    masked, narrowed = seconds(model, x, repeats), seconds(small, x, repeats)
    print(f"{name}: W={width}, w=W/8: masked/narrowed time = {masked / narrowed:.1f}x "
          f"(narrow() itself took {cut * 1e3:.0f} ms)")  # fmt: skip
    full = seconds(narrow(model, width), x, repeats)
    growth = [f"w=W/{width // w}: {seconds(narrow(model, w), x, repeats) / full:.2f}"
              for w in (width // 16, width // 8, width // 4, width // 2)]  # fmt: skip
    print(f"{name}: narrowed time / full-width time: " + ", ".join(growth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    run("MLP head", head(4096), torch.randn(64, 2048), 4096, args.repeats)
    run("convnet", convnet(256), torch.randn(8, 3, 32, 32), 256, args.repeats)


if __name__ == "__main__":
    main()
