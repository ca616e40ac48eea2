"""The VGG19/ImageNet path on a tiny synthetic ImageFolder with random weights.

Images are 40x40 (resized to 36, centre-cropped to 32): VGG19's five poolings leave a 1x1 map
and its adaptive average pool still gives the real 25088-d features, so every shape downstream
is the real one while the backbone costs about 1/50 of a 224x224 pass.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import copy_workflow, run
from failures import Failure
from tridrop.families.head import imagenet, vgg
from tridrop.families.head import jobs as head_jobs
from tridrop.families.head.feature_cache import FeatureCache
from tridrop.families.head.specs import FeatureCacheSpec, ImageNetSpec

IMAGENET_KEPT = "nothing ran: the workflow stops when it is read, before any job"
FAILURES = [
    Failure("data", "ImageNet root folder missing", "does not exist", IMAGENET_KEPT),
    Failure("data", "ImageNet folder layout without `val/`", "val is missing", IMAGENET_KEPT),
    Failure("data", "ImageNet with too few class folders", "has 3 class folders, 1000 are needed", IMAGENET_KEPT),
    Failure("data", "an empty ImageNet class folder", "no images in n01484850", IMAGENET_KEPT),
    Failure("data", "ImageNet archives layout with archives missing",
            "missing ILSVRC2012_devkit_t12.tar.gz, ILSVRC2012_img_train.tar", IMAGENET_KEPT),

    Failure("disk", "a feature cache larger than the free disk space",
            "the feature cache needs about 64.0 GB but only 0.0 GB are free on that disk",
            "nothing written: refused before the first image"),
    Failure("data", "a truncated or corrupt JPEG in the ImageNet folders", "unreadable image",
            "the shards cached so far (the cache resumes after the file is fixed)"),
    Failure("model files", "VGG19 weights file with pickled code",
            "evil.pth: refused to load: it holds Python objects other than tensors and plain data, which could run code",
            "nothing is executed"),
]  # fmt: skip


CLASSES = ["n01440764", "n01443537", "n01484850"]
SIZES = {"resize": 36, "crop": 32}


def synthetic_imagenet(root: Path, train: int = 4, val: int = 3) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", train), ("val", val)):
        for wnid in CLASSES:
            (root / split / wnid).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, size=(40, 40, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / wnid / f"{wnid}_{i}.JPEG")
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return synthetic_imagenet(tmp_path_factory.mktemp("imagenet"))


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    return vgg.load_state_dict("random", seed=0)


def test_check_accepts_a_complete_copy_and_a_class_limit(data: Path):
    assert imagenet.check(data, "folder", max_classes=3)["classes"] == CLASSES
    assert imagenet.check(data, "folder", max_classes=2)["classes"] == CLASSES[:2]


@pytest.mark.parametrize(
    ("layout", "max_classes", "breaks", "message"),
    [
        ("folder", 3, "root", FAILURES[0].seen),
        ("folder", 3, "val", FAILURES[1].seen),
        ("folder", None, None, FAILURES[2].seen),
        ("folder", 3, "empty", FAILURES[3].seen),
        ("archives", 3, "val", FAILURES[4].seen),
    ],
)
def test_check_says_what_is_missing_and_how_to_prepare(
    tmp_path: Path, layout, max_classes, breaks, message
):
    root = synthetic_imagenet(tmp_path / "copy", train=1, val=1)
    if breaks == "root":
        root = tmp_path / "nowhere"
    elif breaks == "val":
        for f in (root / "val").rglob("*.JPEG"):
            f.unlink()
        for d in sorted((root / "val").iterdir()):
            d.rmdir()
        (root / "val").rmdir()
    elif breaks == "empty":
        next((root / "train" / CLASSES[2]).iterdir()).unlink()
    with pytest.raises(imagenet.ImageNetMissing, match=message) as err:
        imagenet.check(root, layout, max_classes)
    assert "How to prepare" in str(err.value)


def test_cached_features_equal_a_direct_forward_pass(data: Path, tmp_path: Path, state):
    out = tmp_path / "val"
    s = ImageNetSpec(
        str(data), weights="random", max_classes=3, shard_size=4, batch_size=64, workers=0, **SIZES
    )
    head_jobs.cache(FeatureCacheSpec("imagenet", "val", s, "cpu"), out=out, work=tmp_path / "work")
    cache = FeatureCache(out)
    assert cache.dim == vgg.FEATURES == 25088 and len(cache) == 9
    assert cache.meta["shards"] == [4, 4, 1] and cache.meta["classes"] == CLASSES
    assert cache.meta["backbone_params"] == 20_024_384
    assert not (tmp_path / "work").exists()  # shards moved into the output when complete
    items = imagenet.samples(data, "val", CLASSES)
    ds = imagenet.Views(items, imagenet.transform(**SIZES))
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    with torch.no_grad():
        direct = vgg.backbone(state)(x)
    scale = float(direct.abs().max())
    assert scale > 0 and (direct > 0).float().mean() > 0.1
    # fp16 keeps 11 significant bits: relative error <= 2^-11, plus float32 batch-order noise.
    torch.testing.assert_close(cache[torch.arange(9)], direct, rtol=1e-3, atol=1e-4 * scale)
    assert cache.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]


class Interrupted(Exception):
    pass


def test_an_interrupted_cache_resumes_shard_by_shard_to_the_same_features(
    data: Path, tmp_path: Path, state
):
    items = imagenet.samples(data, "train", CLASSES, per_class=2)
    tf = imagenet.transform(augment=True, **SIZES)
    backbone = vgg.backbone(state)

    class Dies(imagenet.Views):
        def __getitem__(self, r):
            if r == 9:  # in the third shard
                raise Interrupted
            return super().__getitem__(r)

    kw = {"shard_size": 4, "seed": 3, "batch_size": 4}
    imagenet.cache_features(backbone, imagenet.Views(items, tf, 2), tmp_path / "fresh", {}, **kw)
    with pytest.raises(Interrupted):
        imagenet.cache_features(backbone, Dies(items, tf, 2), tmp_path / "resumed", {}, **kw)
    assert sorted(p.name for p in (tmp_path / "resumed").glob("labels_*")) == [
        "labels_00000.npy", "labels_00001.npy"]  # fmt: skip
    imagenet.cache_features(backbone, imagenet.Views(items, tf, 2), tmp_path / "resumed", {}, **kw)
    fresh, resumed = FeatureCache(tmp_path / "fresh"), FeatureCache(tmp_path / "resumed")
    assert len(fresh) == 12  # 3 classes x 2 images x 2 augmented views
    assert torch.equal(fresh[torch.arange(12)], resumed[torch.arange(12)])
    assert not torch.equal(fresh[torch.tensor([0])], fresh[torch.tensor([1])])  # two views differ


def test_pretrained_head_is_vgg19s_classifier(state):
    head = vgg.pretrained_head(state, classes=3, hidden=16)
    assert torch.equal(head[0].weight, state["classifier.0.weight"][:16])
    assert torch.equal(head[3].weight, state["classifier.3.weight"][:16, :16])
    assert torch.equal(head[6].weight, state["classifier.6.weight"][:3, :16])
    full = vgg.pretrained_head(state)
    assert sum(p.numel() for p in full.parameters()) == 123_642_856


def test_weights_files_load_without_running_pickled_code(tmp_path: Path):
    class Evil:
        def __reduce__(self):
            return (print, ("this code ran",))

    torch.save({"features.0.weight": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match=FAILURES[7].seen.replace("(", r"\(")):
        vgg.load_state_dict(str(tmp_path / "evil.pth"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        vgg.load_state_dict(str(tmp_path / "missing.pth"))


def vgg_preset(cfg: dict, root: Path) -> dict:
    """The tiny demo preset plus a VGG19 head on the synthetic ImageFolder (random weights)."""
    p = copy.deepcopy(cfg["presets"]["demo"])
    p["heads"] = {"vgg19": {
        "dataset": "imagenet", "hidden": 16, "reference": "pretrained", "epochs": 2,
        "batch_size": 8, "lr": 1e-3, "weight_decay": 0.0, "seeds": [0], "processes": 1,
        "variants": {"td": {"mode": "triangle", "init": "reference"},
                     "td_scratch": {"mode": "triangle", "init": "scratch"},
                     "notd": {"mode": "none", "init": "reference"}},
        "widths": [1, 2, 4, 8, 16], "fixed_widths": [4], "rank_samples": 50,
        "claims": {"model": "td", "kept_25": 0.95, "kept_10": 0.9, "max_gap": 0.02},
        "imagenet": {"root": str(root), "layout": "folder", "weights": "random",
                     "max_classes": 3, "train_per_class": None, "val_per_class": 2,
                     "train_views": 2, "shard_size": 5, "batch_size": 4, "workers": 0,
                     "seed": 0, **SIZES},
    }}  # fmt: skip
    cfg["presets"]["vggtest"] = p
    cfg["preset"] = "vggtest"
    return cfg


def write_config(dest: Path, root: Path) -> None:
    path = dest / "config/config.yaml"
    path.write_text(yaml.safe_dump(vgg_preset(yaml.safe_load(path.read_text()), root)))


@pytest.mark.slow
def test_the_vgg19_path_end_to_end(data: Path, tmp_path: Path):
    dest = copy_workflow(tmp_path / "wf")
    write_config(dest, data)
    run(["snakemake", "--cores", "2", "results/vggtest/claims.csv",
         "results/vggtest/figures/vgg19_accuracy_vs_params.png",
         "results/vggtest/figures/vgg19_grid.png"], dest)  # fmt: skip
    res = dest / "results/vggtest"
    assert (res / "runs/vgg19/imagenet.json").exists()
    train, val = (
        FeatureCache(res / "runs/vgg19/features/train"),
        FeatureCache(res / "runs/vgg19/features/val"),
    )
    assert train.dim == val.dim == 25088
    assert len(train) == 3 * 4 * 2 and len(val) == 3 * 2  # limits and augmented views
    assert train.meta["augment"] and not val.meta["augment"]
    table = pd.read_csv(res / "tables/vgg19_accuracy_vs_params.csv")
    # The controls of issue 22 on VGG19's path: a no-TD head retrained on the cache, the
    # linear probe, the cuts trained at each width, the (w1, w2) grid.
    controls = {"notd", "linear_probe", "ranked_ft", "svd_ft"}
    assert {"td", "td_scratch", "fixed", "ranked", "svd", "reference"} | controls <= set(
        table["model"]
    )
    grid = pd.read_csv(res / "tables/vgg19_grid.csv")
    assert len(grid) == 5 * 5 and grid["on_front"].any()
    full = table[(table["model"] == "td") & (table["width"] == 16)].iloc[0]
    assert full["head_params"] == 25088 * 16 + 16 + 16 * 16 + 16 + 16 * 3 + 3
    assert full["network_params"] == 20_024_384 + full["head_params"]
    assert table["top1"].between(0, 1).all()
    claims = pd.read_csv(res / "claims.csv")
    assert (claims["experiment"] == "vgg19").sum() == 3  # beside the tiny autoencoder's claims
    assert (res / "figures/vgg19_accuracy_vs_params.pdf").exists()


@pytest.mark.slow
def test_a_missing_imagenet_stops_the_run_before_any_job(tmp_path: Path):
    dest = copy_workflow(tmp_path / "wf")
    write_config(dest, tmp_path / "no-imagenet-here")
    proc = run(["snakemake", "--cores", "1"], dest, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "ImageNet not found" in out and "no-imagenet-here does not exist" in out
    assert "How to prepare the folder layout" in out
    assert not (dest / "results").exists() and not (dest / "logs").exists()


def test_a_cache_that_cannot_fit_is_refused_before_it_starts(tmp_path: Path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**12, 10**12 - 10**6, 10**6))
    with pytest.raises(OSError, match=FAILURES[5].seen):
        imagenet.check_disk(tmp_path / "cache", 64 * 10**9)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_an_unreadable_jpeg_is_named(tmp_path: Path, damage):
    root = synthetic_imagenet(tmp_path / "copy", train=1, val=1)
    bad = next((root / "val" / CLASSES[0]).iterdir())
    raw = bad.read_bytes()
    bad.write_bytes(raw[: len(raw) // 3] if damage == "truncated" else b"not a jpeg at all")
    views = imagenet.Views([(bad, 0)], imagenet.transform(40, 32, False))
    with pytest.raises(OSError, match=FAILURES[6].seen) as err:
        views[0]
    assert str(bad) in str(err.value)
