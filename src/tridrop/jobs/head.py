"""Classifier-head jobs: cache features, train heads, sweep widths, baselines, table, claims.

A head sees only cached features (VGG19's 25088-d features of ImageNet images, or the raw
pixels of the bundled digits for the offline stand-in), so training and sweeps never run the
backbone. Results are tidy rows (``top1``, ``top5`` per width) plus parameter counts per
width (head and whole network, as fractions of the full-width network).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pandas as pd
import torch

from tridrop.baselines import head_baselines
from tridrop.claims import head_claims
from tridrop.data import load_split
from tridrop.evaluation import COLUMNS, head_topk, tidy_at
from tridrop.feature_cache import FeatureCache, write_index, write_shard
from tridrop.files import read_csv, save_model, write_csv, write_json
from tridrop.models.head import head_params, load_head, td_head
from tridrop.specs import (
    Experiment,
    FeatureCacheSpec,
    HeadBaselines,
    HeadClaims,
    HeadSweep,
    HeadTrain,
    ImageNetSpec,
    PretrainedHead,
    dump,
)
from tridrop.tables import METRICS, PARAM_COLUMNS, TABLE_COLUMNS, accuracy_table, params_frame
from tridrop.train import classification_loss, environment, fit, resolve_device, save_run

log = logging.getLogger(__name__)


def check(spec: ImageNetSpec, *, out: Path):
    """Check the local ImageNet copy; write its classes and image counts (the manifest)."""
    from tridrop import imagenet

    write_json(imagenet.check(spec.root, spec.layout, spec.max_classes), out)


def cache(spec: FeatureCacheSpec, *, out: Path, data: Path | None = None, work: Path | None = None):
    """Cache one split's features: the digits pixels (``data``) or VGG19 features of ImageNet.

    ImageNet shards go to ``work`` first (outside the declared outputs, so a killed job
    resumes there) and move to ``out`` when the cache is complete.
    """
    if spec.dataset == "digits":
        if data is None:
            raise ValueError("the digits feature cache needs --data (the stored split)")
        _cache_digits(data, spec.split, out)
        return
    from tridrop import imagenet
    from tridrop.models import vgg

    s = spec.imagenet
    manifest = imagenet.check(s.root, s.layout, s.max_classes)
    if manifest["classes"] is None:
        imagenet.prepare(s.root, s.layout)
        manifest = imagenet.check(s.root, s.layout, s.max_classes)
    train = spec.split == "train"
    items = imagenet.samples(
        s.root, spec.split, manifest["classes"], s.train_per_class if train else s.val_per_class
    )
    augment = train and s.train_views > 0
    views = s.train_views if augment else 1
    dataset = imagenet.Views(items, imagenet.transform(s.resize, s.crop, augment), views)
    state = vgg.load_state_dict(s.weights, s.seed)
    meta = {
        "source": "imagenet",
        "split": spec.split,
        "classes": manifest["classes"],
        "backbone": "vgg19",
        "backbone_params": vgg.backbone_params(state),
        "weights": s.weights,
        "views": dataset.views,
        "augment": augment,
        "resize": s.resize,
        "crop": s.crop,
        "images": len(items),
    }
    log.info(
        "%s %s: %d images x %d views, %d classes",
        s.root,
        spec.split,
        len(items),
        dataset.views,
        len(manifest["classes"]),
    )
    stage = Path(work) if work is not None else Path(out)
    imagenet.cache_features(
        vgg.backbone(state),
        dataset,
        stage,
        meta,
        shard_size=s.shard_size,
        batch_size=s.batch_size,
        workers=s.workers,
        seed=s.seed,
        device=resolve_device(spec.device),
    )
    if stage != Path(out):
        Path(out).mkdir(parents=True, exist_ok=True)
        for f in sorted(stage.iterdir()):
            shutil.move(str(f), Path(out) / f.name)
        stage.rmdir()


def _cache_digits(data: Path, split: str, out: Path) -> None:
    """The digits split as a feature cache: flattened pixels (k/16, exact in fp16), no backbone."""
    s = load_split(data)
    x, y = (s.x_train, s.y_train) if split == "train" else (s.x_test, s.y_test)
    write_shard(out, 0, x.flatten(1).numpy(), y.numpy())
    meta = {
        "source": "digits",
        "split": split,
        "classes": [str(c) for c in range(10)],
        "backbone": "none",
        "backbone_params": 0,
    }
    write_index(out, [len(y)], x[0].numel(), meta)
    log.info("digits %s: %d rows of %d features -> %s", split, len(y), x[0].numel(), out)


def pretrained(spec: PretrainedHead, *, model: Path):
    """VGG19's own classifier, unmodified (the reference head), written as a model file."""
    from tridrop.models import vgg

    head = vgg.pretrained_head(vgg.load_state_dict(spec.weights), spec.classes, spec.hidden)
    arch = {
        "kind": "head",
        "in_features": vgg.FEATURES,
        "hidden": spec.hidden,
        "classes": spec.classes,
        "mode": "none",
        "p": 0.1,
    }
    meta = {
        "arch": arch,
        "source": f"vgg19 {spec.weights}",
        "environment": environment(torch.device("cpu")),
    }
    save_model(model, head, meta)
    write_json(meta, model.with_suffix(".json"))


def train(
    spec: HeadTrain,
    *,
    features: Path,
    model: Path,
    init: Path | None = None,
    checkpoint: Path | None = None,
):
    """Train a head on a feature cache; ``init``: start from this head's weights (same shape).

    Run under ``torchrun`` (WORLD_SIZE > 1) it trains data-parallel (DDP: NCCL on GPUs, gloo
    on CPUs); only process 0 writes files.
    """
    dist = torch.distributed
    m, cfg = spec.model, spec.train
    ddp = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = resolve_device(cfg.device)
    if ddp:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    try:
        rows_in = FeatureCache(features, device)
        classes = len(rows_in.meta["classes"])
        arch = {
            "kind": "head",
            "in_features": rows_in.dim,
            "hidden": m.hidden,
            "classes": classes,
            "mode": m.mode,
            "p": m.p,
        }
        torch.manual_seed(cfg.seed)
        net = td_head(rows_in.dim, m.hidden, classes, m.mode, m.p)
        if init is not None:
            start = load_head(init, in_features=rows_in.dim)
            hidden, out = start[0].out_features, start[-1].out_features
            if (hidden, out) != (m.hidden, classes):
                raise ValueError(
                    f"{init}: a head with {hidden} hidden units and {out} classes; this one "
                    f"has {m.hidden} and {classes} (init needs the same shape)"
                )
            net.load_state_dict(start.state_dict())
        net.to(device)
        log.info(
            "training %s on %s (%d rows) on %s%s",
            arch,
            features,
            len(rows_in),
            device,
            f", init from {init}" if init else "",
        )
        history = fit(
            net,
            rows_in,
            rows_in.labels,
            cfg,
            classification_loss,
            checkpoint=checkpoint,
            tag=dump(spec),
        )
        meta = {
            "arch": arch,
            "train": cfg,
            "features": str(features),
            "init": str(init) if init else None,
            "processes": dist.get_world_size() if ddp else 1,
        }
        if not ddp or dist.get_rank() == 0:
            save_run(model, net, meta, device, history, checkpoint)
    finally:
        if ddp:
            dist.destroy_process_group()


def sweep(spec: HeadSweep, *, model: Path, features: Path, out: Path, params: Path):
    """Top-1/top-5 at every width (those up to the head's own) and the parameter counts."""
    dev = resolve_device(spec.device)
    rows_in = FeatureCache(features, dev)
    net = load_head(model, dev, rows_in.dim)
    hidden, classes = net[0].out_features, net[-1].out_features
    if hidden > spec.width:  # narrower heads are fixed-width baselines; wider ones a mix-up
        raise ValueError(
            f"{model}: hidden layers of {hidden} units, wider than the sweep's spec.width = "
            f"{spec.width}"
        )
    if classes != len(rows_in.meta["classes"]):
        raise ValueError(
            f"{model}: a head for {classes} classes, but {features} has "
            f"{len(rows_in.meta['classes'])}"
        )
    ws = [w for w in spec.widths if w <= hidden] if hidden == spec.width else [hidden]
    acc = head_topk(net, rows_in.batches(1024), ws)
    r = spec.rows
    rows = pd.concat(
        [
            tidy_at(acc[:, i].tolist(), ws, r.experiment, r.model, r.seed, m)
            for i, m in enumerate(METRICS)
        ]
    )
    counts = [head_params(rows_in.dim, w, w, classes) for w in ws]
    full = head_params(rows_in.dim, spec.width, spec.width, classes)
    write_csv(rows, out)
    write_csv(
        params_frame(r.experiment, r.model, ws, counts, full, rows_in.meta["backbone_params"]),
        params,
    )


def baselines(
    spec: HeadBaselines, *, reference: Path, train: Path, val: Path, out: Path, params: Path
):
    """The reference head at full width, cut by importance ranking, and its truncated SVDs."""
    rows, counts = head_baselines(
        reference,
        train,
        val,
        widths=list(spec.widths),
        experiment=spec.experiment,
        rank_samples=spec.rank_samples,
        device=spec.device,
    )
    write_csv(rows, out)
    write_csv(counts, params)


def table(spec: Experiment, *, sweeps: Path, params: list[Path], out: Path):
    """The accuracy against parameters table (the paper's "compressed" VGG19 table)."""
    counts = pd.concat([read_csv(f, PARAM_COLUMNS) for f in params], ignore_index=True)
    write_csv(accuracy_table(read_csv(sweeps, COLUMNS), counts, spec.experiment), out)


def claims(spec: HeadClaims, *, table: Path, out: Path):
    """The "minimal impact" claims of a pruned head, from its accuracy table."""
    write_csv(head_claims(read_csv(table, TABLE_COLUMNS), spec), out)


VERBS = ("check", "cache", "pretrained", "train", "sweep", "baselines", "table", "claims")
