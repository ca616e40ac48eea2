"""The classifier-head experiment: cache features, train TD heads, sweep widths, baselines.

A head sees only cached features (VGG19's 25088-d features of ImageNet images, or the raw
pixels of the bundled digits for the offline stand-in), so training and sweeps never run the
backbone. Results are tidy rows (``top1``, ``top5`` per width) plus parameter counts per
width (head and whole network, as fractions of the full-width network).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch

from tridrop.data import load_split
from tridrop.feature_cache import FeatureCache, write_index, write_shard
from tridrop.models.head import (
    count_params,
    head_params,
    importance_order,
    permute_units,
    svd_head,
    svd_rank_for,
    td_head,
)
from tridrop.sweep import head_topk, tidy_at, topk_correct
from tridrop.train import (
    TrainConfig,
    classification_loss,
    environment,
    fit,
    load_model_file,
    resolve_device,
    save_model,
)

log = logging.getLogger(__name__)

METRICS = ("top1", "top5")
PARAM_COLUMNS = ["experiment", "model", "width", "head_params", "network_params",
                 "head_fraction", "network_fraction"]  # fmt: skip


def cache_digits(data: str | Path, split: str, out: str | Path) -> None:
    """The digits split as a feature cache: flattened pixels (k/16, exact in fp16), no backbone."""
    s = load_split(data)
    x, y = (s.x_train, s.y_train) if split == "train" else (s.x_test, s.y_test)
    write_shard(out, 0, x.flatten(1).numpy(), y.numpy())
    meta = {"source": "digits", "split": split, "classes": [str(c) for c in range(10)],
            "backbone": "none", "backbone_params": 0}  # fmt: skip
    write_index(out, [len(y)], x[0].numel(), meta)
    log.info("digits %s: %d rows of %d features -> %s", split, len(y), x[0].numel(), out)


def cache_imagenet(
    root: str | Path,
    split: str,
    out: str | Path,
    *,
    layout: str = "folder",
    weights: str = "imagenet1k_v1",
    max_classes: int | None = None,
    per_class: int | None = None,
    views: int = 0,
    resize: int = 256,
    crop: int = 224,
    shard_size: int = 10000,
    batch_size: int = 64,
    workers: int = 0,
    seed: int = 0,
    device: str = "auto",
    work: str | Path | None = None,
) -> None:
    """VGG19 features of one ImageNet split (``views`` augmented views per train image).

    Shards go to ``work`` first (outside the declared outputs, so a killed job resumes there)
    and move to ``out`` when the cache is complete.
    """
    from tridrop import imagenet
    from tridrop.models import vgg

    manifest = imagenet.check(root, layout, max_classes)
    if manifest["classes"] is None:
        imagenet.prepare(root, layout)
        manifest = imagenet.check(root, layout, max_classes)
    items = imagenet.samples(root, split, manifest["classes"], per_class)
    augment = split == "train" and views > 0
    dataset = imagenet.Views(
        items, imagenet.transform(resize, crop, augment), views if augment else 1
    )
    state = vgg.load_state_dict(weights, seed)
    meta = {"source": "imagenet", "split": split, "classes": manifest["classes"],
            "backbone": "vgg19", "backbone_params": vgg.backbone_params(state),
            "weights": weights, "views": dataset.views, "augment": augment,
            "resize": resize, "crop": crop, "images": len(items)}  # fmt: skip
    log.info("%s %s: %d images x %d views, %d classes", root, split, len(items), dataset.views,
             len(manifest["classes"]))  # fmt: skip
    stage = Path(work) if work is not None else Path(out)
    imagenet.cache_features(vgg.backbone(state), dataset, stage, meta, shard_size=shard_size,
                            batch_size=batch_size, workers=workers, seed=seed,
                            device=resolve_device(device))  # fmt: skip
    if stage != Path(out):
        Path(out).mkdir(parents=True, exist_ok=True)
        for f in sorted(stage.iterdir()):
            shutil.move(str(f), Path(out) / f.name)
        stage.rmdir()


def pretrained_reference(weights: str, classes: int, hidden: int, out: str | Path) -> None:
    """VGG19's own classifier, unmodified (the reference head), written as a model file."""
    from tridrop.models import vgg

    head = vgg.pretrained_head(vgg.load_state_dict(weights), classes, hidden)
    arch = {"kind": "head", "in_features": vgg.FEATURES, "hidden": hidden, "classes": classes,
            "mode": "none", "p": 0.1}  # fmt: skip
    meta = {
        "arch": arch,
        "source": f"vgg19 {weights}",
        "environment": environment(torch.device("cpu")),
    }
    save_model(out, head, meta)
    Path(out).with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")


def load_head(path: str | Path, device: torch.device | str = "cpu") -> torch.nn.Sequential:
    state, meta = load_model_file(path)
    a = meta["arch"]
    model = td_head(a["in_features"], a["hidden"], a["classes"], a["mode"], a["p"])
    model.load_state_dict(state)
    return model.to(device).eval()


def train_head(
    features: str | Path,
    out: str | Path,
    *,
    hidden: int,
    mode: str,
    p: float,
    cfg: TrainConfig,
    init: str | Path | None = None,
    checkpoint: str | Path | None = None,
) -> dict:
    """Train a head on a feature cache; ``init``: start from this head's weights (same shape).

    Run under ``torchrun`` it trains data-parallel (DDP); only process 0 writes files.
    """
    dist = torch.distributed
    ddp = dist.is_available() and dist.is_initialized()
    rank = dist.get_rank() if ddp else 0
    device = resolve_device(cfg.device)
    if ddp and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    cache = FeatureCache(features, device)
    classes = len(cache.meta["classes"])
    arch = {"kind": "head", "in_features": cache.dim, "hidden": hidden, "classes": classes,
            "mode": mode, "p": p}  # fmt: skip
    torch.manual_seed(cfg.seed)
    model = td_head(cache.dim, hidden, classes, mode, p)
    if init is not None:
        model.load_state_dict(load_model_file(init)[0])
    model.to(device)
    log.info("training %s on %s (%d rows) on %s%s", arch, features, len(cache), device,
             f", init from {init}" if init else "")  # fmt: skip
    history = fit(model, cache, cache.labels, cfg, classification_loss, checkpoint=checkpoint)
    meta = {"arch": arch, "train": asdict(cfg), "features": str(features),
            "init": str(init) if init else None, "processes": dist.get_world_size() if ddp else 1,
            "environment": environment(device), "history": history}  # fmt: skip
    if rank == 0:
        save_model(out, model, meta)
        Path(out).with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
        if checkpoint is not None:
            Path(checkpoint).unlink(missing_ok=True)
    return meta


def params_frame(
    experiment: str, model: str, widths: list[int], counts: list[int], full_head: int,
    backbone: int,
) -> pd.DataFrame:  # fmt: skip
    """Parameter counts per width, and their fractions of the full-width head and network."""
    counts = [int(c) for c in counts]
    return pd.DataFrame(
        {"experiment": experiment, "model": model, "width": list(widths), "head_params": counts,
         "network_params": [backbone + c for c in counts],
         "head_fraction": [c / full_head for c in counts],
         "network_fraction": [(backbone + c) / (backbone + full_head) for c in counts]}
    )[PARAM_COLUMNS]  # fmt: skip


def sweep_head(
    model_path: str | Path,
    features: str | Path,
    *,
    widths: list[int],
    experiment: str,
    name: str,
    seed: int,
    full_hidden: int,
    device: str = "auto",
    batch_size: int = 1024,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Top-1/top-5 at every width (those up to the head's own) and the parameter counts."""
    dev = resolve_device(device)
    cache = FeatureCache(features, dev)
    model = load_head(model_path, dev)
    hidden, classes = model[0].out_features, model[-1].out_features
    ws = [w for w in widths if w <= hidden] if hidden == full_hidden else [hidden]
    acc = head_topk(model, cache.batches(batch_size), ws)
    rows = pd.concat([tidy_at(acc[:, i].tolist(), ws, experiment, name, seed, m)
                      for i, m in enumerate(METRICS)])  # fmt: skip
    counts = [head_params(cache.dim, w, w, classes) for w in ws]
    full = head_params(cache.dim, full_hidden, full_hidden, classes)
    params = params_frame(experiment, name, ws, counts, full, cache.meta["backbone_params"])
    return rows, params


@torch.no_grad()
def head_baselines(
    reference: str | Path,
    train_features: str | Path,
    val_features: str | Path,
    *,
    widths: list[int],
    experiment: str,
    rank_samples: int = 10000,
    device: str = "auto",
    batch_size: int = 1024,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference head at full width, cut by importance ranking, and its truncated SVDs.

    Units are ranked on up to ``rank_samples`` training rows (never the validation set). The
    SVD head at width w has the largest rank whose parameter count does not exceed the TD
    head's at w; widths where no rank fits are left out.
    """
    dev = resolve_device(device)
    val = FeatureCache(val_features, dev)
    train = FeatureCache(train_features, dev, in_memory=False)
    ref = load_head(reference, dev)
    in_f, hidden, classes = ref[0].in_features, ref[0].out_features, ref[-1].out_features
    full = head_params(in_f, hidden, hidden, classes)
    backbone = val.meta["backbone_params"]
    frames, params = [], []

    def add(name, ws, values, counts):
        for i, m in enumerate(METRICS):
            frames.append(tidy_at([v[i] for v in values], ws, experiment, name, 0, m))
        params.append(params_frame(experiment, name, ws, counts, full, backbone))

    top = head_topk(ref, val.batches(batch_size), [hidden])[0].tolist()
    add("reference", [hidden], [top], [full])

    gen = torch.Generator().manual_seed(0)
    pick = torch.randperm(len(train), generator=gen)[: min(rank_samples, len(train))].sort().values
    ranked = load_head(reference, dev)
    permute_units(ranked, *importance_order(ranked, train[pick]))
    ws = [w for w in widths if w <= hidden]
    acc = head_topk(ranked, val.batches(batch_size), ws)
    add("ranked", ws, acc.tolist(), [head_params(in_f, w, w, classes) for w in ws])

    svd_ws, svd_vals, svd_counts = [], [], []
    for w in ws:
        rank = svd_rank_for(in_f, hidden, classes, head_params(in_f, w, w, classes))
        if rank == 0:
            continue
        small = svd_head(ref, rank).to(dev)
        correct = sum(topk_correct(small(x), y) for x, y in val.batches(batch_size))
        svd_ws.append(w)
        svd_vals.append((correct / len(val)).tolist())
        svd_counts.append(count_params(small))
        log.info("svd at width %d: rank %d, %d parameters, top-1 %.4f", w, rank,
                 svd_counts[-1], svd_vals[-1][0])  # fmt: skip
    if svd_ws:
        add("svd", svd_ws, svd_vals, svd_counts)
    return pd.concat(frames, ignore_index=True), pd.concat(params, ignore_index=True)


def accuracy_table(sweeps: pd.DataFrame, params: pd.DataFrame, experiment: str) -> pd.DataFrame:
    """The "compressed" table: width, head params, % of head, % of network, top-1, top-5.

    Accuracies are means (and standard deviations) over seeds, from the aggregated sweeps.
    """
    s = sweeps[(sweeps["experiment"] == experiment) & sweeps["metric"].isin(METRICS)]
    if s.empty:
        raise ValueError(f"no top1/top5 rows for experiment {experiment!r}")
    g = s.groupby(["model", "width", "metric"])["value"]
    stats = g.agg(mean="mean", std="std", seeds="count").reset_index()
    stats["std"] = stats["std"].fillna(0.0)
    wide = stats.pivot_table(index=["model", "width"], columns="metric",
                             values=["mean", "std", "seeds"])  # fmt: skip
    out = pd.DataFrame(index=wide.index)
    for m in METRICS:
        out[m] = wide[("mean", m)]
        out[f"{m}_std"] = wide[("std", m)]
    out["seeds"] = wide[("seeds", "top1")].astype(int)
    p = params[params["experiment"] == experiment].drop_duplicates(["model", "width"])
    table = p.merge(out.reset_index(), on=["model", "width"], how="inner")
    table["head_pct"] = 100 * table["head_fraction"]
    table["network_pct"] = 100 * table["network_fraction"]
    cols = ["experiment", "model", "width", "head_params", "head_pct", "network_params",
            "network_pct", "top1", "top1_std", "top5", "top5_std", "seeds"]  # fmt: skip
    return table[cols].sort_values(["model", "head_params"], ascending=[True, False],
                                   ignore_index=True)  # fmt: skip


def head_claims(
    table: pd.DataFrame, *, model: str = "td", kept_25: float = 0.95, kept_10: float = 0.9,
    max_gap: float = 0.02,
) -> pd.DataFrame:  # fmt: skip
    """Claims rows: top-1 kept at 25% and 10% of head parameters; the full-width gap.

    At each budget the widest swept TD width whose head has at most that share of the
    full-width head's parameters is used; the value is its top-1 over the full-width top-1.
    The gap is the reference (unconstrained network) top-1 minus the full-width TD top-1.
    """
    td = table[table["model"] == model].sort_values("head_params")
    if td.empty:
        raise ValueError(f"no rows of model {model!r} in the table")
    exp = td["experiment"].iloc[0]
    full = td.iloc[-1]
    rows = []
    for budget, threshold in ((0.25, kept_25), (0.10, kept_10)):
        fits = td[td["head_pct"] <= 100 * budget + 1e-9]
        if fits.empty:
            continue
        r = fits.iloc[-1]
        rows.append({
            "claim": f"{model}: top-1 kept at <= {budget:.0%} of head parameters (width "
                     f"{int(r['width'])}, {r['head_pct']:.1f}% of head), relative to full width",
            "metric": "top1_ratio", "value": r["top1"] / full["top1"], "threshold": threshold,
            "held": bool(r["top1"] / full["top1"] >= threshold),
        })  # fmt: skip
    ref = table[table["model"] == "reference"]
    if not ref.empty:
        gap = float(ref["top1"].iloc[0] - full["top1"])
        rows.append({
            "claim": f"{model}: full-width top-1 gap to the unconstrained network (reference "
                     "minus TD, at most the threshold)",
            "metric": "top1_gap", "value": gap, "threshold": max_gap, "held": bool(gap <= max_gap),
        })  # fmt: skip
    out = pd.DataFrame(rows)
    out.insert(0, "experiment", exp)
    return out[["experiment", "claim", "metric", "value", "threshold", "held"]]
