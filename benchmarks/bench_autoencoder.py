"""Benchmarks of the autoencoder code paths; prints ratios measured in one run.

1. Training throughput of ``tridrop.train.fit`` against a bare PyTorch loop on the same model,
   data, batches and optimiser (target: fit / bare >= 0.8).
2. The width sweep ``families.autoencoder.evaluation.latent_mse`` against W full-width
   evaluations of the test set (target: sweep <= 0.3 x W full-width evaluations).

    python benchmarks/bench_autoencoder.py                  # the demo's digits autoencoder
    python benchmarks/bench_autoencoder.py --shape 1 28 28 --hidden 512 --latent 64 --n 8000
"""

from __future__ import annotations

import argparse
import logging
import time

import torch
from torch import nn

from tridrop.families.autoencoder.evaluation import latent_mse
from tridrop.families.autoencoder.models import mlp_autoencoder
from tridrop.specs import TrainSpec
from tridrop.train import fit


def bare_loop(model: nn.Module, x: torch.Tensor, cfg: TrainSpec) -> None:
    """The loop a user would write: same batches, Adam, MSE; no logging or checkpoints."""
    order = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    for _ in range(cfg.epochs):
        model.train()
        for idx in torch.randperm(len(x), generator=order).split(cfg.batch_size):
            loss = nn.functional.mse_loss(model(x[idx]), x[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[1, 8, 8], help="image C H W")
    parser.add_argument("--n", type=int, default=1437, help="training images (random pixels)")
    parser.add_argument("--n-test", type=int, default=2000, help="test images for the sweep")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--latent", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (as in the rules)")
    a = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)  # fit logs one line per epoch at INFO
    torch.set_num_threads(a.threads)
    shape = tuple(a.shape)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(a.n, *shape, generator=gen)
    x_test = torch.rand(a.n_test, *shape, generator=gen)
    cfg = TrainSpec(epochs=a.epochs, batch_size=a.batch_size, lr=1e-3, device="cpu")

    def fresh() -> nn.Module:
        torch.manual_seed(0)
        return mlp_autoencoder(shape, a.hidden, a.latent, "triangle")

    t_fit = best_of(a.repeats, lambda: fit(fresh(), x, x, cfg))
    t_bare = best_of(a.repeats, lambda: bare_loop(fresh(), x, cfg))
    steps = a.epochs * len(range(0, a.n, a.batch_size))
    print(f"model {shape} -> {a.hidden} -> {a.latent} (TD), {a.n} images, batch "
          f"{a.batch_size}, {a.epochs} epochs, {torch.get_num_threads()} thread(s)")  # fmt: skip
    print(f"train: fit {steps / t_fit:.0f} steps/s, bare loop {steps / t_bare:.0f} steps/s, "
          f"throughput ratio fit/bare = {t_bare / t_fit:.2f} (target >= 0.8)")  # fmt: skip

    model = fresh().eval()

    @torch.no_grad()
    def full_width() -> None:
        for chunk in x_test.split(256):
            model(chunk)

    t_sweep = best_of(a.repeats, lambda: latent_mse(model, x_test))
    t_full = best_of(a.repeats, full_width)
    w = a.latent
    print(f"sweep: all {w} widths {t_sweep * 1e3:.1f} ms, one full-width evaluation "
          f"{t_full * 1e3:.1f} ms: sweep = {t_sweep / t_full:.2f} full-width evaluations "
          f"= {t_sweep / (w * t_full):.3f} x W (target <= 0.3)")  # fmt: skip


if __name__ == "__main__":
    main()
