"""Will the `paper` preset fit, and how long will it take? Measured on synthetic data of real shape.

For each experiment of `presets.paper` (config/config.yaml) the real model is built from the
preset and trained with the project's own code on synthetic tensors of the real shapes:
MNIST 1x28x28 (60,000 rows), CelebA 3x64x64 (162,770 rows), and the VGG19 head on 25,088-d fp16
features read from a memory-mapped feature cache (1,281,167 rows in the real run; a smaller
cache here). A few steps are timed and scaled to whole epochs (the `scaled` columns); a width
sweep is timed on a few test rows and scaled to the full test set; the VGG19 cache throughput
(images/s) is measured on synthetic JPEGs through the frozen convolutions (random weights).
For the head, the epoch is compared with its matmul bound: 3 x 2 x params x rows divided by
the throughput of a matmul of the head's first-layer shape, measured in the same run.

    python benchmarks/paper_scale.py                 # CPU defaults, a few minutes on 2 cores
    python benchmarks/paper_scale.py --smallest      # seconds: the test's setting
    python benchmarks/paper_scale.py --device cuda --steps 50 --images 512
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from head_cache import images as synthetic_jpegs  # benchmarks/head_cache.py: 500x375 JPEGs

# The project's API in one block (names follow the pipeline's modules; update here on renames).
from tridrop.config import resolve
from tridrop.families.autoencoder.evaluation import latent_mse
from tridrop.families.autoencoder.models import build_autoencoder
from tridrop.families.autoencoder.specs import AutoencoderModel
from tridrop.families.head import imagenet, vgg
from tridrop.families.head.evaluation import head_topk
from tridrop.families.head.feature_cache import FeatureCache, write_index, write_shard
from tridrop.families.head.models import count_params, td_head
from tridrop.registry import FAMILIES
from tridrop.specs import TrainSpec, as_config, pick
from tridrop.train import classification_loss, environment, fit, resolve_device

ROOT = Path(__file__).resolve().parents[1]
# Real dataset sizes: train rows, test rows (CelebA's test partition, capped by max_test).
DATA = {
    "mnist": {"shape": (1, 28, 28), "train": 60_000, "test": 10_000},
    "celeba": {"shape": (3, 64, 64), "train": 162_770, "test": 19_962},
    "imagenet": {"train": 1_281_167, "test": 50_000},
}
CLASSES = 1000
COLUMNS = [
    "experiment", "device", "model", "params", "train_rows", "batch_size", "steps_timed",
    "step_s", "steps_per_epoch", "epoch_s_scaled", "test_rows", "sweep_rows",
    "sweep_s_scaled", "runs", "epochs", "cache_images_per_s", "cache_s_scaled",
    "matmul_tflops", "bound_epoch_s", "epoch_over_bound", "peak_rss_gb", "peak_cuda_gb",
    "data_gb", "preset_s", "preset_h",
]  # fmt: skip
log = logging.getLogger("paper_scale")


class Peak:
    """Peak memory of one phase: host RSS (Linux resets VmHWM on ``clear_refs`` 5) and CUDA."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def __enter__(self) -> Peak:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.per_phase = True
        except OSError:  # not Linux or not allowed: the process's lifetime peak instead
            self.per_phase = False
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, *exc) -> None:
        if self.per_phase:
            status = Path("/proc/self/status").read_text().splitlines()
            line = next(s for s in status if s.startswith("VmHWM"))
            self.rss_gb = int(line.split()[1]) * 1024 / 1e9
        else:
            self.rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
        cuda = self.device.type == "cuda"
        self.cuda_gb = torch.cuda.max_memory_allocated(self.device) / 1e9 if cuda else 0.0


def timed(fn, device: torch.device) -> float:
    """Wall seconds of ``fn()``, waiting for queued GPU work before and after."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def step_seconds(model, x, y, cfg: TrainSpec, a, loss_fn=None) -> float:
    """Seconds per training step of ``fit`` (after ``a.warmup`` untimed steps on the same model).

    ``fit`` trains whole epochs, so it gets ``steps x batch_size`` rows and one epoch; its own
    epoch timer excludes building the optimiser, but the first step still allocates its state.
    """
    b = cfg.batch_size
    kwargs = {} if loss_fn is None else {"loss_fn": loss_fn}
    if a.warmup:
        fit(model, x[: a.warmup * b], y[: a.warmup * b], cfg, **kwargs)
    history = fit(model, x[: a.steps * b], y[: a.steps * b], cfg, **kwargs)
    return history[0]["seconds"] / a.steps


class Rows:
    """Rows ``rows`` of a feature cache as ``fit`` sees a training set: len, device, gathering.

    Random rows spread over the whole cache, so the gathers read the memory map as an epoch does.
    """

    def __init__(self, cache: FeatureCache, rows: torch.Tensor) -> None:
        self.cache, self.rows, self.device = cache, rows, cache.device

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, idx: torch.Tensor | slice) -> torch.Tensor | Rows:
        if isinstance(idx, slice):  # the first rows, for a shorter timed epoch
            return Rows(self.cache, self.rows[idx])
        return self.cache[self.rows[idx.cpu()]]


def autoencoder(name: str, spec: dict, a, device: torch.device) -> dict:
    """Train steps and a width sweep of one autoencoder of the preset."""
    data = DATA[spec["dataset"]]
    shape, b, latent = data["shape"], spec["batch_size"], spec["latent"]
    arch = pick(AutoencoderModel, spec, mode="triangle")  # the experiment's TD network
    cfg = TrainSpec(epochs=1, batch_size=b, lr=spec["lr"], weight_decay=spec["weight_decay"],
                      device=str(device))  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(max(a.steps, a.warmup) * b, *shape, generator=gen).to(device)
    x_test = torch.rand(a.sweep_rows, *shape, generator=gen).to(device)
    test_rows = min(data["test"], spec.get("max_test") or data["test"])
    with Peak(device) as peak:
        torch.manual_seed(0)
        model = build_autoencoder(arch, shape).to(device)
        step = step_seconds(model, x, x, cfg, a)  # labels unused by the reconstruction loss
        latent_mse(model, x_test[:1])  # warm-up
        sweep = timed(lambda: latent_mse(model, x_test), device) * test_rows / a.sweep_rows
    steps = math.ceil(data["train"] / b)
    seeds, variants, fixed = len(spec["seeds"]), len(spec["variants"]), spec["fixed_widths"]
    runs = (variants + len(fixed)) * seeds
    epoch = step * steps
    # Fixed-width runs differ only in the latent (a sliver of the FLOPs): same step time. Their
    # sweeps cover widths 1..w, so they cost w/latent of a full sweep.
    preset = epoch * spec["epochs"] * runs + sweep * seeds * (variants + sum(fixed) / latent)
    row = {
        "experiment": name, "model": f"{spec['arch']} autoencoder, latent {latent}",
        "params": count_params(model), "train_rows": data["train"], "batch_size": b,
        "step_s": step, "steps_per_epoch": steps, "epoch_s_scaled": epoch,
        "test_rows": test_rows, "sweep_s_scaled": sweep, "runs": runs,
        "data_gb": data["train"] * math.prod(shape) * 4 / 1e9,  # float32 tensor on the device
        "preset_s": preset,
    }  # fmt: skip
    return row | {"peak_rss_gb": peak.rss_gb, "peak_cuda_gb": peak.cuda_gb}


def write_cache(root: Path, rows: int, shard_size: int, seed: int) -> FeatureCache:
    """A synthetic fp16 feature cache written by the project's writer, opened memory-mapped."""
    rng = np.random.default_rng(seed)
    sizes = [min(shard_size, rows - s) for s in range(0, rows, shard_size)]
    for k, n in enumerate(sizes):
        feats = np.empty((n, vgg.FEATURES), np.float16)
        for s in range(0, n, 1024):  # float32 noise in chunks: bounded memory per shard
            chunk = rng.standard_normal((min(1024, n - s), vgg.FEATURES), np.float32)
            feats[s : s + len(chunk)] = np.maximum(chunk, 0)  # features follow a ReLU
        write_shard(root, k, feats, rng.integers(0, CLASSES, n))
    write_index(root, sizes, vgg.FEATURES, {"classes": list(range(CLASSES)), "backbone_params": 0})
    # The ImageNet caches (64 GB train, 2.5 GB val) exceed the in-memory limit: memory-mapped.
    return FeatureCache(root, "cpu", in_memory=False)


def matmul_tflops(device: torch.device, a) -> float:
    """Matmul throughput at the head's first-layer shape, in the dtype ``fit`` computes in."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32  # fit's autocast on CUDA
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(256, vgg.FEATURES, generator=gen).to(device, dtype)
    w = torch.randn(vgg.HIDDEN, vgg.FEATURES, generator=gen).to(device, dtype)
    x @ w.T  # warm-up
    best = min(timed(lambda: x @ w.T, device) for _ in range(a.repeats))
    return 2 * x.shape[0] * vgg.FEATURES * vgg.HIDDEN / best / 1e12


def cache_throughput(im: dict, a, device: torch.device, tmp: Path) -> float:
    """Images/s of the VGG19 feature cache: JPEG decode, train transform, frozen convolutions."""
    (tmp / "jpeg").mkdir(parents=True)
    items = synthetic_jpegs(tmp / "jpeg", a.images, CLASSES)
    # The train split's transform (train_views: 1 means one augmented view per image).
    dataset = imagenet.Views(items, imagenet.transform(a.resize, a.crop, augment=True))
    backbone = vgg.backbone(vgg.load_state_dict("random")).to(device)
    with torch.no_grad(), torch.autocast("cuda", torch.float16, enabled=device.type == "cuda"):
        backbone(torch.zeros(1, 3, a.crop, a.crop, device=device))  # warm-up
    seconds = timed(
        lambda: imagenet.cache_features(
            backbone, dataset, tmp / "cache", {"classes": list(range(CLASSES))},
            shard_size=a.images, batch_size=min(im["batch_size"], a.images), workers=a.workers,
            device=device,
        ),
        device,
    )  # fmt: skip
    return a.images / seconds


def head(name: str, spec: dict, a, device: torch.device, tmp: Path) -> dict:
    """Cache throughput, train steps from a memory-mapped cache, sweeps, and the matmul bound."""
    im, b, hidden = spec["imagenet"], spec["batch_size"], spec["hidden"]
    rows, test_rows = DATA["imagenet"]["train"], DATA["imagenet"]["test"]
    cfg = TrainSpec(epochs=1, batch_size=b, lr=spec["lr"], weight_decay=spec["weight_decay"],
                      device=str(device))  # fmt: skip
    seeds, variants, fixed = len(spec["seeds"]), len(spec["variants"]), spec["fixed_widths"]
    with Peak(device) as peak:
        tflops = matmul_tflops(device, a)  # again at the end: the best of both, as other load
        images_s = cache_throughput(im, a, device, tmp)  # on a shared machine only slows it
        need = max(a.steps, a.warmup) * b
        t0 = time.perf_counter()
        cache = write_cache(tmp / "train", max(a.cache_rows or 0, need), im["shard_size"], 0)
        log.info("wrote %d cache rows in %.1fs", len(cache), time.perf_counter() - t0)
        cache.device = device  # gathered rows go to the device, as train_head opens it
        pick = torch.randperm(len(cache), generator=torch.Generator().manual_seed(0))[:need]
        x, y = Rows(cache, pick), cache.labels[pick].to(device)
        torch.manual_seed(0)
        model = td_head(vgg.FEATURES, hidden, CLASSES, "triangle").to(device)
        step = step_seconds(model, x, y, cfg, a, classification_loss)
        fixed_steps = {}
        for w in fixed:  # smaller heads: their own step times
            small = td_head(vgg.FEATURES, w, CLASSES, "none").to(device)
            fixed_steps[w] = step_seconds(small, x, y, cfg, a, classification_loss)
            del small
        val = write_cache(tmp / "val", a.sweep_rows, im["shard_size"], 1)
        val.device = device
        widths = spec["widths"]
        head_topk(model, val.batches(1024), widths)  # warm-up
        scale = test_rows / a.sweep_rows
        sweep = timed(lambda: head_topk(model, val.batches(1024), widths), device) * scale
        full = timed(lambda: head_topk(model, val.batches(1024), [hidden]), device) * scale
        tflops = max(tflops, matmul_tflops(device, a))
    params = count_params(model)
    steps = math.ceil(rows / b)
    epoch = step * steps
    bound = 3 * 2 * params * rows / (tflops * 1e12)
    cache_s = (rows + test_rows) / images_s
    train = spec["epochs"] * seeds * (epoch * variants + sum(fixed_steps.values()) * steps)
    # TD runs and the importance-ranked baseline sweep all widths; fixed-width heads and the
    # reference are one full-width evaluation each (an overestimate for the small heads).
    sweeps = sweep * (variants * seeds + 1) + full * (len(fixed) * seeds + 1)
    row = {
        "experiment": name, "model": f"TD head {vgg.FEATURES}-{hidden}-{hidden}-{CLASSES}",
        "params": params, "train_rows": rows, "batch_size": b, "step_s": step,
        "steps_per_epoch": steps, "epoch_s_scaled": epoch, "test_rows": test_rows,
        "sweep_s_scaled": sweep, "runs": (variants + len(fixed)) * seeds,
        "cache_images_per_s": images_s, "cache_s_scaled": cache_s, "matmul_tflops": tflops,
        "bound_epoch_s": bound, "epoch_over_bound": epoch / bound,
        "data_gb": rows * (vgg.FEATURES * 2 + 8) / 1e9,  # the fp16 cache, memory-mapped
        "preset_s": cache_s + train + sweeps,
    }  # fmt: skip
    return row | {"peak_rss_gb": peak.rss_gb, "peak_cuda_gb": peak.cuda_gb}


SMALLEST = {"steps": 1, "warmup": 0, "sweep_rows": 8, "images": 2, "crop": 32, "resize": 36,
            "repeats": 1, "cache_rows": 0}  # fmt: skip


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--steps", type=int, default=20, help="timed training steps per model")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps before them")
    ap.add_argument("--sweep-rows", type=int, default=256, help="test rows of each timed sweep")
    ap.add_argument(
        "--cache-rows",
        type=int,
        default=4096,
        help="rows of the synthetic train cache (real: 1,281,167; 0: just enough)",
    )
    ap.add_argument("--images", type=int, default=32, help="JPEGs through the VGG19 cache")
    ap.add_argument("--crop", type=int, default=224, help="VGG19 input crop (preset: 224)")
    ap.add_argument("--resize", type=int, default=256, help="short side before the crop")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers of the cache")
    ap.add_argument("--repeats", type=int, default=5, help="best of this many matmuls")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--experiments", nargs="*", default=None, help="subset (default: all)")
    ap.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    ap.add_argument("--tmp", type=Path, default=None, help="folder for the synthetic caches")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="CSV (default results/benchmarks/paper_scale_<device>.csv)",
    )
    ap.add_argument(
        "--smallest",
        action="store_true",
        help=f"seconds, for the tests (numbers not representative): {SMALLEST}",
    )
    a = ap.parse_args(argv)
    if a.smallest:
        vars(a).update(SMALLEST)
    return a


def main(argv: list[str] | None = None) -> pd.DataFrame:
    argv = sys.argv[1:] if argv is None else argv
    a = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("tridrop").setLevel(logging.WARNING)  # fit logs every epoch
    device = resolve_device(a.device)
    # The paper preset with every default filled in (the wings' specs), as plain values.
    settings = resolve({**yaml.safe_load(a.config.read_text()), "preset": "paper"})
    paper = {FAMILIES[f].section: {n: as_config(e) for n, e in exps.items()}
             for f, exps in settings.experiments.items()}  # fmt: skip
    specs = {**paper["autoencoders"], **paper["heads"]}
    names = a.experiments or list(specs)
    started, load = time.perf_counter(), os.getloadavg()[0]
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="paper_scale_", dir=a.tmp))
    try:
        for name in names:
            log.info("%s ...", name)
            if name in paper["heads"]:
                rows.append(head(name, specs[name], a, device, tmp / name))
            else:
                rows.append(autoencoder(name, specs[name], a, device))
            rows[-1] |= {"epochs": specs[name]["epochs"], "steps_timed": a.steps,
                         "sweep_rows": a.sweep_rows, "device": device.type}  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    df = pd.DataFrame(rows).reindex(columns=COLUMNS)
    df["preset_h"] = df["preset_s"] / 3600
    total_h = float(df["preset_s"].sum() / 3600)
    out = a.out or ROOT / "results" / "benchmarks" / f"paper_scale_{device.type}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False, float_format="%.6g")
    side = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python benchmarks/paper_scale.py", *argv]),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(a).items()},
        "environment": environment(device), "preset_total_h": total_h,
        "wall_s": time.perf_counter() - started,
        # Other work on a shared machine slows every number; the 1-minute load says how much.
        "load_average_1min": {"start": load, "end": os.getloadavg()[0]},
        "notes": "step_s measured; *_scaled = step_s x steps_per_epoch, sweeps x test_rows / "
                 "sweep_rows; preset_s = epochs x runs x epoch + sweeps (+ cache for vgg19)",
    }  # fmt: skip
    out.with_suffix(".json").write_text(json.dumps(side, indent=2) + "\n")
    show = df.drop(columns=["device", "model", "train_rows", "test_rows", "steps_timed"])
    with pd.option_context("display.width", 250, "display.max_columns", None):
        print(show.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"device {device} ({torch.get_num_threads()} threads); scaled columns are step and "
          f"sweep times scaled to the full epoch and test set; paper preset total {total_h:.1f} h "
          f"(benchmark wall {side['wall_s']:.0f}s); CSV {out}")  # fmt: skip
    return df


if __name__ == "__main__":
    main()
