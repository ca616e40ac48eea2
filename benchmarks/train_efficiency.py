"""How much of this machine's matmul throughput does training reach? Prints ratios of one run.

For each model of the `fashion` preset (the MLP autoencoder, the conv autoencoder, the TD head
on cached features) the project's own `tridrop.train.fit` trains one short epoch on synthetic
tensors of the real shapes, on the threads a pipeline job gets (one: `OMP_NUM_THREADS=1`).
Its FLOPs are counted from the layer shapes (a Linear layer: 2 x in x out per sample; a
convolution: 2 x its kernel volume x output elements; training: 3x the forward pass, for the
forward, the input gradients and the weight gradients). The ratio divides the achieved FLOP/s
by the fp32 matmul throughput of this machine, measured in the same run on a matmul of the
model's largest layer shape (batch x in x out) and on a 1024^3 matmul (the better of the two).

    python benchmarks/train_efficiency.py              # about a minute on one core
    python benchmarks/train_efficiency.py --threads 2 --steps 40
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

import torch
import yaml
from torch import nn

from tridrop.config import resolve
from tridrop.families.autoencoder.models import build_autoencoder
from tridrop.families.autoencoder.specs import AutoencoderModel
from tridrop.families.head.models import td_head
from tridrop.specs import TrainSpec, as_config, pick
from tridrop.train import classification_loss, fit, reconstruction_loss


def forward_flops(model: nn.Module, x: torch.Tensor) -> tuple[float, tuple[int, int, int]]:
    """FLOPs of one forward pass of ``x`` through the Linear and convolution layers, and the
    largest Linear layer's (batch, in, out) shape (the matmul the machine is measured on)."""
    total, biggest = 0.0, (0, 0, 0)

    def hook(module, inputs, output):
        nonlocal total, biggest
        if isinstance(module, nn.Linear):
            rows = inputs[0].numel() // module.in_features
            total += 2.0 * rows * module.in_features * module.out_features
            shape = (rows, module.in_features, module.out_features)
            biggest = max(biggest, shape, key=lambda s: s[0] * s[1] * s[2])
        elif isinstance(module, nn.Conv2d):  # each output element: its kernel volume
            kernel = module.in_channels // module.groups * math.prod(module.kernel_size)
            total += 2.0 * kernel * output.numel()
        elif isinstance(module, nn.ConvTranspose2d):  # each input element meets the kernel once
            kernel = module.out_channels // module.groups * math.prod(module.kernel_size)
            total += 2.0 * kernel * inputs[0].numel()

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model.eval()(x)
    for h in handles:
        h.remove()
    return total, biggest


def matmul_flops_per_s(m: int, k: int, n: int, seconds: float = 1.0) -> float:
    """Best fp32 FLOP/s of ``(m, k) @ (k, n)`` over repeats filling about ``seconds``."""
    a, b = torch.rand(m, k), torch.rand(k, n)
    a @ b  # warm-up
    best, spent = float("inf"), 0.0
    while spent < seconds:
        t = time.perf_counter()
        a @ b
        dt = time.perf_counter() - t
        best, spent = min(best, dt), spent + dt
    return 2.0 * m * k * n / best


def trained_flops_per_s(model, x, y, loss, batch: int, steps: int) -> tuple[float, float]:
    """Achieved training FLOP/s of ``fit`` (one epoch of ``steps`` batches, after one warm-up
    epoch of two batches) and the forward FLOPs per sample."""
    cfg = TrainSpec(epochs=1, batch_size=batch, lr=1e-3, device="cpu")
    fit(model, x[: 2 * batch], y[: 2 * batch], cfg, loss)  # warm-up: allocator, kernels
    t = time.perf_counter()
    fit(model, x[: steps * batch], y[: steps * batch], cfg, loss)
    seconds = time.perf_counter() - t
    fwd, _ = forward_flops(model, x[:1])
    return 3.0 * fwd * steps * batch / seconds, fwd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (jobs use 1)")
    parser.add_argument("--steps", type=int, default=30, help="training batches timed per model")
    a = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(a.threads)
    config = yaml.safe_load(Path("config/config.yaml").read_text())
    exps = resolve({**config, "preset": "fashion"}).all()  # the sections, defaults filled in
    gen = torch.Generator().manual_seed(0)
    rows = []
    for name in ("fashion_mlp", "fashion_conv"):
        spec = as_config(exps[name])
        arch = pick(AutoencoderModel, spec, mode="triangle")
        b = spec["batch_size"]
        x = torch.rand(a.steps * b, 1, 28, 28, generator=gen)
        torch.manual_seed(0)
        model = build_autoencoder(arch, (1, 28, 28))
        rows.append((name, model, x, x, reconstruction_loss, b))
    head = as_config(exps["fashion_head"])
    b = head["batch_size"]
    feats = torch.rand(a.steps * b, 1152, generator=gen)
    labels = torch.randint(0, 10, (a.steps * b,), generator=gen)
    torch.manual_seed(0)
    rows.append(("fashion_head", td_head(1152, head["hidden"], 10), feats, labels,
                 classification_loss, b))  # fmt: skip

    print(f"threads {a.threads}; {a.steps} training batches per model; fp32 on the CPU")
    print(f"{'model':14} {'batch':>5} {'GFLOP/step':>10} {'train GFLOP/s':>13} "
          f"{'matmul GFLOP/s':>14} {'ratio':>6}")  # fmt: skip
    peak_square = matmul_flops_per_s(1024, 1024, 1024)
    for name, model, x, y, loss, batch in rows:
        achieved, fwd = trained_flops_per_s(model, x, y, loss, batch, a.steps)
        _, (m, k, n) = forward_flops(model, x[:batch])
        peak = max(peak_square, matmul_flops_per_s(m, k, n))
        print(f"{name:14} {batch:5d} {3 * fwd * batch / 1e9:10.3f} {achieved / 1e9:13.2f} "
              f"{peak / 1e9:14.2f} {achieved / peak:6.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
