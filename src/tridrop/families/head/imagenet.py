"""ImageNet: check the user's copy, list its images, and cache VGG19 features of them.

ImageNet cannot be downloaded by a pipeline; it must already be on disk, in one of two layouts:
``folder`` (an ImageFolder tree ``train/<wnid>/*.JPEG``, ``val/<wnid>/*.JPEG``) or ``archives``
(torchvision's ``ImageNet``: ``ILSVRC2012_devkit_t12.tar.gz``, ``ILSVRC2012_img_train.tar``,
``ILSVRC2012_img_val.tar``, which torchvision unpacks into the folder layout on first use).
:func:`check` says exactly what is missing and how to prepare it. Classes are the sorted wnids
(torchvision's order, which the pretrained head's outputs follow); a subset keeps the first K.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from tridrop.families.head.feature_cache import shard_done, write_index, write_shard

log = logging.getLogger(__name__)

LAYOUTS = ("folder", "archives")
ARCHIVES = {
    "devkit": "ILSVRC2012_devkit_t12.tar.gz",
    "train": "ILSVRC2012_img_train.tar",
    "val": "ILSVRC2012_img_val.tar",
}
EXTENSIONS = (".jpeg", ".jpg", ".png")
CLASSES = 1000
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

HOW_FOLDER = (
    "How to prepare the folder layout: get ILSVRC2012 from https://image-net.org (an account is "
    "needed; nothing here can download it); extract ILSVRC2012_img_train.tar into <root>/train "
    "and each per-class tar inside it into <root>/train/<wnid>/; put the 50,000 validation "
    "images into <root>/val/<wnid>/ (torchvision.datasets.ImageNet(<root>, split='val') does "
    "this from the devkit). Or place the three archives in <root> and set `layout: archives`."
)
HOW_ARCHIVES = (
    "How to prepare the archives layout: download ILSVRC2012_devkit_t12.tar.gz, "
    "ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar from https://image-net.org (an account "
    "is needed; nothing here can download them) and put the three files in <root>; torchvision "
    "unpacks them into <root>/train and <root>/val on first use (about 300 GB free space)."
)


class ImageNetMissing(FileNotFoundError):
    """The configured ImageNet copy is absent or incomplete (the message says how to fix it)."""


def check(
    root: str | Path,
    layout: str = "folder",
    max_classes: int | None = None,
    splits: tuple[str, ...] = ("train", "val"),
) -> dict:
    """Check the copy at ``root``; return its classes and image counts, or raise ImageNetMissing.

    Needs ``max_classes`` class folders (all 1000 without a limit) in each split, each with at
    least one image, and the same wnids in every split.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown ImageNet layout {layout!r}; choose one of {LAYOUTS}")
    root = Path(root)
    how = HOW_FOLDER if layout == "folder" else HOW_ARCHIVES
    if not root.is_dir():
        raise ImageNetMissing(f"ImageNet not found: {root} does not exist.\n{how}")
    if layout == "archives" and not all((root / s).is_dir() for s in splits):
        missing = [name for name in ARCHIVES.values() if not (root / name).is_file()]
        if missing:
            raise ImageNetMissing(
                f"ImageNet archives incomplete in {root}: missing {', '.join(missing)}.\n{how}"
            )
        return {"root": str(root), "layout": layout, "classes": None, "images": {}}
    problems: list[str] = []
    wanted = max_classes or CLASSES
    found: dict[str, list[str]] = {}
    for split in splits:
        d = root / split
        if not d.is_dir():
            problems.append(f"folder {d} is missing")
            continue
        wnids = sorted(p.name for p in d.iterdir() if p.is_dir())
        if len(wnids) < wanted:
            problems.append(f"{d} has {len(wnids)} class folders, {wanted} are needed")
            continue
        found[split] = wnids[:wanted]
        empty = [w for w in found[split] if not any(_images(d / w, 1))]
        if empty:
            problems.append(
                f"{d}: no images in {', '.join(empty[:5])}" + (" ..." if len(empty) > 5 else "")
            )
    if len(found) == len(splits) and len({tuple(v) for v in found.values()}) > 1:
        problems.append(f"the splits do not have the same first {wanted} class folders")
    if problems:
        raise ImageNetMissing(
            f"ImageNet at {root} is incomplete: " + "; ".join(problems) + f".\n{how}"
        )
    classes = found[splits[0]]
    return {"root": str(root), "layout": layout, "classes": classes}


def prepare(root: str | Path, layout: str) -> None:
    """Unpack the archives layout with torchvision (a no-op for the folder layout)."""
    if layout == "archives":
        from torchvision.datasets import ImageNet

        for split in ("train", "val"):
            ImageNet(str(root), split=split)  # extracts the tars and writes meta.bin once


def samples(
    root: str | Path, split: str, classes: list[str], per_class: int | None = None
) -> list[tuple[Path, int]]:
    """``(path, label)`` of the first ``per_class`` images (sorted names) of each class."""
    out: list[tuple[Path, int]] = []
    for label, wnid in enumerate(classes):
        files = sorted(_images(Path(root) / split / wnid))
        out += [(f, label) for f in files[:per_class]]
    return out


def _images(folder: Path, limit: int | None = None) -> list[Path]:
    found = []
    for p in folder.iterdir():
        if p.suffix.lower() in EXTENSIONS:
            found.append(p)
            if limit is not None and len(found) >= limit:
                break
    return found


def transform(resize: int = 256, crop: int = 224, augment: bool = False):
    """Validation: resize the short side, centre crop; training views: random resized crop, flip."""
    from torchvision import transforms as T

    head = (
        [T.RandomResizedCrop(crop), T.RandomHorizontalFlip()]
        if augment
        else [T.Resize(resize), T.CenterCrop(crop)]
    )
    return T.Compose([*head, T.ToTensor(), T.Normalize(MEAN, STD)])


class Views(Dataset):
    """Row ``r`` is view ``r % views`` of image ``r // views``, with its label."""

    def __init__(self, items: list[tuple[Path, int]], tf, views: int = 1) -> None:
        self.items, self.tf, self.views = items, tf, max(views, 1)

    def __len__(self) -> int:
        return len(self.items) * self.views

    def __getitem__(self, r: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        path, label = self.items[r // self.views]
        try:
            with Image.open(path) as img:
                return self.tf(img.convert("RGB")), label
        except OSError as err:  # PIL's own message may not name the file (a truncated JPEG)
            raise OSError(f"{path}: unreadable image ({err}); replace or delete the file") from None


FEATURE_DIM = 25088  # VGG19's pooled 512 x 7 x 7 features, stored as fp16


def check_disk(folder: str | Path, needed: int) -> None:
    """Refuse to start a cache that cannot fit: say how much it needs and how much is free."""
    folder = Path(folder)
    probe = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    free = shutil.disk_usage(probe).free
    if free < needed:
        raise OSError(
            f"{folder}: the feature cache needs about {needed / 1e9:.1f} GB but only "
            f"{free / 1e9:.1f} GB are free on that disk; free some space, or lower "
            "train_views / train_per_class, or run from a larger disk"
        )
    log.info("%s: %.1f GB needed, %.1f GB free", folder, needed / 1e9, free / 1e9)


@torch.no_grad()
def cache_features(
    backbone: nn.Module,
    dataset: Dataset,
    out: str | Path,
    meta: dict,
    *,
    shard_size: int = 10000,
    batch_size: int = 64,
    workers: int = 0,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> None:
    """Run the frozen ``backbone`` once per row of ``dataset`` and write an fp16 feature cache.

    Shards already on disk are kept, so a killed job resumes at the first missing shard; each
    shard's random views are seeded by (seed, shard), so a resumed cache equals a fresh one.
    """
    device = torch.device(device)
    backbone = backbone.to(device).eval()
    n = len(dataset)
    starts = list(range(0, n, shard_size)) or [0]
    sizes = [min(shard_size, n - s) for s in starts]
    todo = [k for k in range(len(starts)) if not shard_done(out, k)]
    check_disk(out, sum(sizes[k] for k in todo) * (FEATURE_DIM * 2 + 8))
    if len(todo) < len(starts):
        log.info(
            "%s: %d of %d shards already cached; resuming",
            out,
            len(starts) - len(todo),
            len(starts),
        )
    bar = tqdm(total=sum(sizes[k] for k in todo), desc="features", unit="img", disable=None)
    dim = None
    for k in todo:
        t0 = time.perf_counter()
        torch.manual_seed(seed * 1_000_003 + k)
        loader = DataLoader(
            torch.utils.data.Subset(dataset, range(starts[k], starts[k] + sizes[k])),
            batch_size=batch_size,
            num_workers=workers,
            pin_memory=device.type == "cuda",
            generator=torch.Generator().manual_seed(seed * 1_000_003 + k),
        )
        feats, labels = [], []
        for x, y in loader:
            with torch.autocast("cuda", dtype=torch.float16, enabled=device.type == "cuda"):
                f = backbone(x.to(device, non_blocking=True))
            feats.append(f.half().cpu().numpy())
            labels.append(y.numpy())
            bar.update(len(y))
        write_shard(out, k, np.concatenate(feats), np.concatenate(labels))
        dim = feats[0].shape[1]
        seconds = time.perf_counter() - t0
        log.info(
            "shard %d/%d: %d images in %.1fs (%.1f images/s)",
            k + 1,
            len(starts),
            sizes[k],
            seconds,
            sizes[k] / seconds,
        )
    bar.close()
    if dim is None:
        dim = int(np.load(Path(out) / "features_00000.npy", mmap_mode="r").shape[1])
    write_index(out, sizes, dim, meta)
