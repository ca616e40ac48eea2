"""Benchmarks of the VGG19 head design, as ratios measured in one run (CPU proxy).

1. A head training epoch from the feature cache vs the same epoch with the frozen backbone in
   the loop (decode, resize/crop, VGG19 convolutions, then the same head step). Target: >= 20x.
2. A width sweep of K widths by prefix sums vs one full-width evaluation. Target: <= 2x
   (and, for context, vs K separate masked evaluations).

Random VGG19 weights and synthetic JPEG images at full resolution (the backbone's cost is per
pixel, so a smaller image would flatter the cache less); the head is the real 25088-4096-4096-C.
Usage: python benchmarks/head_cache.py [--images 256] [--batch-size 256] [--size 224]
The cached epoch's cost is mostly the optimiser step over 124M parameters, paid once per batch,
so the ratio grows with the batch (the paper preset trains with batch 256).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from tridrop.families.head import imagenet, vgg
from tridrop.families.head.evaluation import head_topk
from tridrop.families.head.feature_cache import FeatureCache, write_index, write_shard
from tridrop.families.head.models import td_head
from tridrop.specs import TrainSpec
from tridrop.train import classification_loss, fit


def images(root: Path, n: int, classes: int) -> list[tuple[Path, int]]:
    from PIL import Image

    rng = np.random.default_rng(0)
    items = []
    for i in range(n):
        path = root / f"img_{i}.JPEG"
        # 500x375: the most common ImageNet image size, so decoding and resizing cost as much.
        Image.fromarray(rng.integers(0, 256, (375, 500, 3), dtype=np.uint8)).save(path)
        items.append((path, i % classes))
    return items


class BackboneInTheLoop:
    """What ``fit`` would gather without a cache: decode, transform, run the frozen backbone."""

    def __init__(self, dataset, backbone) -> None:
        self.dataset, self.backbone, self.device = dataset, backbone, torch.device("cpu")

    def __len__(self) -> int:
        return len(self.dataset)

    @torch.no_grad()
    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        images = torch.stack([self.dataset[int(i)][0] for i in idx])
        return torch.cat([self.backbone(x) for x in images.split(32)])  # bounded memory


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=256, help="images in the training epoch")
    ap.add_argument("--size", type=int, default=224, help="crop size (resize is size * 8/7)")
    ap.add_argument("--hidden", type=int, default=4096, help="head width")
    ap.add_argument("--classes", type=int, default=1000, help="head outputs")
    ap.add_argument("--batch-size", type=int, default=256, help="training batch (paper: 256)")
    ap.add_argument("--rows", type=int, default=2048, help="validation rows of the sweep")
    a = ap.parse_args()
    torch.manual_seed(0)
    widths = [w for w in (4096, 2048, 1024, 512, 256, 128, 64, 32, 16) if w <= a.hidden]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU only")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        items = images(tmp, a.images, a.classes)
        ds = imagenet.Views(items, imagenet.transform(a.size * 8 // 7, a.size))
        backbone = vgg.backbone(vgg.load_state_dict("random"))
        labels = torch.tensor([y for _, y in items])
        imagenet.cache_features(backbone, ds, tmp / "cache", {"classes": list(range(a.classes))},
                                batch_size=32)  # fmt: skip
        cache = FeatureCache(tmp / "cache", in_memory=False)  # as for ImageNet: memory-mapped
        cfg = TrainSpec(epochs=1, batch_size=a.batch_size, lr=1e-4, device="cpu")

        def epoch(x):
            torch.manual_seed(0)
            head = td_head(vgg.FEATURES, a.hidden, a.classes)
            fit(head, x, labels, cfg, classification_loss)

        epoch(cache)  # warm-up (allocations, page cache)
        t_cache = min(timed(lambda: epoch(cache)) for _ in range(2))
        t_loop = timed(lambda: epoch(BackboneInTheLoop(ds, backbone)))
        print(f"head epoch, {a.images} images at {a.size}px, hidden {a.hidden}, batch "
              f"{a.batch_size}: backbone in the loop {t_loop:.2f}s, from the cache {t_cache:.2f}s"
              f" -> {t_loop / t_cache:.1f}x faster (target >= 20x)")  # fmt: skip

        rng = np.random.default_rng(1)
        feats = np.maximum(rng.normal(size=(a.rows, vgg.FEATURES)), 0).astype(np.float16)
        write_shard(tmp / "val", 0, feats, rng.integers(0, a.classes, a.rows))
        write_index(tmp / "val", [a.rows], vgg.FEATURES, {"classes": list(range(a.classes))})
        val = FeatureCache(tmp / "val")
        head = td_head(vgg.FEATURES, a.hidden, a.classes).eval()
        full = head_topk(head, val.batches(256), [a.hidden])  # warm-up

        # Alternate the two so that load from other processes affects both alike; medians.
        def sweep(ws):
            return timed(lambda: head_topk(head, val.batches(256), ws))

        pairs = [(sweep([a.hidden]), sweep(widths)) for _ in range(5)]
        t_full, t_sweep = (float(np.median(v)) for v in zip(*pairs, strict=True))

        def masked():
            with torch.no_grad():
                for w in widths:
                    head.set_width(w)
                    for x, _ in val.batches(256):
                        head(x)
            head.set_width(None)

        t_masked = timed(masked)
        assert full.shape == (1, 2)
        print(f"sweep of K={len(widths)} widths {widths} on {a.rows} rows: one full-width "
              f"evaluation {t_full:.2f}s, prefix-sum sweep {t_sweep:.2f}s -> "
              f"{t_sweep / t_full:.2f}x (target <= 2x); K masked evaluations {t_masked:.2f}s "
              f"({t_masked / t_full:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
