"""Classifier-head jobs: train a backbone, cache features, train heads, sweep widths, baselines,
table, claims.

A head sees only cached features (VGG19's 25088-d features of ImageNet images; the frozen conv
features of a small VGG-style network trained here; or the raw pixels of the bundled digits),
so training and sweeps never run the backbone. Results are tidy rows (``top1``, ``top5`` per
width) plus parameter counts per width (head and whole network, as fractions of the
full-width network).
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
from dataclasses import asdict
from functools import partial
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import torch

from tridrop.data import load_split
from tridrop.evaluation import COLUMNS, tidy_at
from tridrop.extract import narrow
from tridrop.families.head import objectives
from tridrop.families.head.baselines import head_baselines, ranked_reference
from tridrop.families.head.claims import head_claims
from tridrop.families.head.cnn import arch as cnn_arch
from tridrop.families.head.cnn import build_cnn, head_share, load_cnn, spec_of
from tridrop.families.head.evaluation import grid_top1, head_topk, topk_accuracy, topk_correct
from tridrop.families.head.feature_cache import FeatureCache, write_index, write_shard
from tridrop.families.head.grid import grid_rows, mean_grid, tied_on_front
from tridrop.families.head.models import (
    arch,
    count_params,
    head_params,
    load_head,
    svd_head,
    svd_rank_at,
    td_head,
)
from tridrop.families.head.paired import PAIRED_COLUMNS, correct, correct_by_width, paired_row
from tridrop.families.head.specs import (
    BackboneTrain,
    FeatureCacheSpec,
    HeadBaselines,
    HeadClaimsJob,
    HeadFigure,
    HeadFinetune,
    HeadGrid,
    HeadModel,
    HeadPaired,
    HeadProbe,
    HeadSweep,
    HeadTrain,
    ImageNetSpec,
    PretrainedHead,
    TableSpec,
)
from tridrop.families.head.tables import (
    METRICS,
    PARAM_COLUMNS,
    TABLE_COLUMNS,
    accuracy_table,
    params_frame,
)
from tridrop.figures import save
from tridrop.files import (
    load_model_file,
    read_csv,
    read_json,
    save_model,
    write_csv,
    write_json,
)
from tridrop.job import In, Out, Work
from tridrop.registry import HEAD
from tridrop.specs import Gap, Select, dump, rows_name
from tridrop.train import (
    check_memory,
    classification_loss,
    environment,
    fit,
    resolve_device,
    save_run,
)

log = logging.getLogger(__name__)


def check(spec: ImageNetSpec, *, out: Out):
    """Check the local ImageNet copy; write its classes and image counts (the manifest)."""
    from tridrop.families.head import imagenet

    write_json(imagenet.check(spec.root, spec.layout, spec.max_classes), out)


def cache(
    spec: FeatureCacheSpec,
    *,
    out: Out,
    data: In | None = None,
    backbone: In | None = None,
    work: Work | None = None,
):
    """Cache one split's features: VGG19 features of ImageNet, or a stored split (``data``):
    its pixels, or the frozen conv features of a trained ``backbone``.

    ImageNet shards go to ``work`` first (outside the declared outputs, so a killed job
    resumes there) and move to ``out`` when the cache is complete.
    """
    if spec.dataset != "imagenet":
        if data is None:
            raise ValueError(f"the {spec.dataset} feature cache needs --data (the stored split)")
        _cache_split(data, spec.split, out, backbone, resolve_device(spec.device))
        return
    from tridrop.families.head import imagenet, vgg

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


@torch.no_grad()
def _cache_split(
    data: Path, split: str, out: Path, backbone: Path | None, device: torch.device
) -> None:
    """A stored split as a feature cache: its pixels (k/16 digits are exact in fp16), or the
    output of a trained backbone's frozen conv part (``features``), one shard."""
    s = load_split(data)
    x, y = (s.x_train, s.y_train) if split == "train" else (s.x_test, s.y_test)
    classes = [str(c) for c in range(int(max(s.y_train.max(), s.y_test.max())) + 1)]
    meta = {"source": str(data), "split": split, "classes": classes}
    if backbone is None:
        rows = x.flatten(1)
        meta |= {"backbone": "none", "backbone_params": 0}
    else:
        net, info = load_cnn(backbone, device)
        rows = torch.cat([net.features(b.to(device)).cpu() for b in x.split(1024)])
        meta |= {"backbone": str(backbone), "backbone_params": count_params(net.features)}
        log.info("backbone %s: test top-1 %.4f", backbone, info.get("test_top1", float("nan")))
    write_shard(out, 0, rows.numpy(), y.numpy())
    write_index(out, [len(y)], rows.shape[1], meta)
    log.info("%s %s: %d rows of %d features -> %s", data, split, len(y), rows.shape[1], out)


def backbone(spec: BackboneTrain, *, data: In, model: Out, checkpoint: Work | None = None):
    """Train the small VGG-style network without TD on a stored split (the "pretrained"
    network of a head experiment); its test top-1 is recorded in the model's metadata."""
    m, cfg = spec.model, spec.train
    device = resolve_device(cfg.device)
    s = load_split(data).to(device)
    classes, shape = int(s.y_train.max()) + 1, list(s.x_train.shape[1:])
    torch.manual_seed(cfg.seed)
    net = build_cnn(m, shape, classes).to(device)
    log.info(
        "training %s on %s (%d images, head %.0f%% of %d parameters) on %s",
        m,
        data,
        len(s.x_train),
        100 * head_share(net),
        count_params(net),
        device,
    )
    history = fit(
        net, s.x_train, s.y_train, cfg, classification_loss, checkpoint=checkpoint, tag=dump(spec)
    )
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(b) for b in s.x_test.split(1024)])
    top1 = float(topk_correct(logits, s.y_test, (1,))[0]) / len(s.y_test)
    log.info("test top-1 %.4f", top1)
    meta = {
        "arch": cnn_arch(m, shape, classes),
        "train": cfg,
        "data": str(data),
        "test_top1": top1,
        "params": count_params(net),
        "head_params": count_params(net.classifier),
        "head_share": head_share(net),
    }
    save_run(model, net, meta, device, history, checkpoint)


def pretrained(spec: PretrainedHead, *, model: Out, backbone: In | None = None):
    """The reference head, unmodified, as a model file: VGG19's own classifier, or the head of
    a ``backbone`` trained here (its dropout layers become TD layers of mode ``none``)."""
    if backbone is not None:
        net, info = load_cnn(backbone)
        hidden, classes = spec_of(info, backbone).hidden, info["arch"]["classes"]
        if hidden != spec.hidden:
            raise ValueError(f"{backbone}: head of {hidden} units, expected {spec.hidden}")
        head = td_head(net.feature_dim, hidden, classes, "none")
        head.load_state_dict(net.classifier.state_dict())
        in_features, source = net.feature_dim, str(backbone)
    else:
        from tridrop.families.head import vgg

        head = vgg.pretrained_head(vgg.load_state_dict(spec.weights), spec.classes, spec.hidden)
        in_features, classes, source = vgg.FEATURES, spec.classes, f"vgg19 {spec.weights}"
    # The unconstrained head: the spec of the same head trained without TD.
    recorded = arch(HeadModel(hidden=spec.hidden, mode="none"), in_features, classes)
    meta = {"arch": recorded, "source": source, "environment": environment(torch.device("cpu"))}
    save_model(model, head, meta)
    write_json(meta, model.with_suffix(".json"))


def train(
    spec: HeadTrain,
    *,
    features: In,
    model: Out,
    init: In | None = None,
    checkpoint: Work | None = None,
):
    """Train a head on a feature cache; ``init``: start from this head's weights (same shape).

    Run under ``torchrun`` (WORLD_SIZE > 1) it trains data-parallel (DDP: NCCL on GPUs, gloo
    on CPUs); only process 0 writes files.
    """
    dist = torch.distributed
    m, cfg = spec.model, spec.train
    ddp = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if ddp and spec.objective.loss != "plain":  # its forward bypasses DDP's wrapper
        raise ValueError(f"objective {spec.objective.loss!r} trains in one process only")
    device = resolve_device(cfg.device)
    if ddp:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    try:
        rows_in = FeatureCache(features, device)
        classes = len(rows_in.meta["classes"])
        check_memory(lambda: td_head(rows_in.dim, m.hidden, classes, m.mode, m.p), device)
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
            m,
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
            objectives.loss_for(spec.objective),
            checkpoint=checkpoint,
            tag=dump(spec),
        )
        passes = objectives.passes(spec.objective, rows_in.dim, m.hidden, classes)
        meta = {
            "arch": arch(m, rows_in.dim, classes),
            "train": cfg,
            "objective": asdict(spec.objective),
            # Full-width forward passes per training row (multiply-adds), the run's cost.
            "forward_passes": cfg.epochs * passes,
            "features": str(features),
            "init": str(init) if init else None,
            "processes": dist.get_world_size() if ddp else 1,
        }
        if not ddp or dist.get_rank() == 0:
            save_run(model, net, meta, device, history, checkpoint)
    finally:
        if ddp:
            dist.destroy_process_group()


def sweep(spec: HeadSweep, *, model: In, features: In, out: Out, params: Out):
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


def probe(spec: HeadProbe, *, train: In, val: In, out: Out, params: Out):
    """A linear probe trained on the cached training features, scored on the test features
    (rows at width 0: no hidden layer)."""
    cfg, r = spec.train, spec.rows
    dev = resolve_device(cfg.device)
    rows_in, test = FeatureCache(train, dev), FeatureCache(val, dev)
    classes = len(rows_in.meta["classes"])
    torch.manual_seed(cfg.seed)
    net = torch.nn.Sequential(torch.nn.Linear(rows_in.dim, classes)).to(dev)
    fit(net, rows_in, rows_in.labels, cfg, classification_loss)
    acc = topk_accuracy(net, test.batches(1024))
    log.info("%s linear probe seed %d: top-1 %.4f", r.experiment, r.seed, acc[0])
    write_csv(
        pd.concat(
            [
                tidy_at([a], [0], r.experiment, r.model, r.seed, m)
                for a, m in zip(acc, METRICS, strict=True)
            ]
        ),
        out,
    )
    full = head_params(rows_in.dim, spec.width, spec.width, classes)
    count = count_params(net)
    write_csv(
        params_frame(r.experiment, r.model, [0], [count], full, rows_in.meta["backbone_params"]),
        params,
    )


def finetune(spec: HeadFinetune, *, reference: In, train: In, val: In, out: Out, params: Out):
    """The reference's training-free cuts at each width, each then trained ``epochs`` on the
    cached features (rows ``ranked_ft`` and ``svd_ft``): what TD's "no retraining" saves."""
    cfg = spec.train
    dev = resolve_device(cfg.device)
    rows_in, test = FeatureCache(train, dev), FeatureCache(val, dev)
    ref = load_head(reference, dev, rows_in.dim)
    in_f, hidden, classes = ref[0].in_features, ref[0].out_features, ref[-1].out_features
    ranked = ranked_reference(reference, rows_in, spec.rank_samples, dev)
    cuts = {"ranked_ft": [], "svd_ft": []}
    for w in spec.widths:
        rank = svd_rank_at(in_f, hidden, classes, w)
        for name, net in (
            ("ranked_ft", narrow(ranked, w)),
            # A copy: where a factor would not be smaller, svd_head keeps the layer itself.
            ("svd_ft", svd_head(copy.deepcopy(ref), rank) if rank else None),
        ):
            if net is None:
                continue
            net = net.to(dev).train()
            fit(net, rows_in, rows_in.labels, cfg, classification_loss)
            acc = topk_accuracy(net, test.batches(1024))
            cuts[name].append((w, acc, count_params(net)))
            log.info("%s width %d, %d epoch(s): top-1 %.4f", name, w, cfg.epochs, acc[0])
    full = head_params(in_f, hidden, hidden, classes)
    frames, counts = [], []
    for name, found in cuts.items():
        if not found:
            continue
        ws, accs, ps = zip(*found, strict=True)
        frames += [
            tidy_at([a[i] for a in accs], list(ws), spec.experiment, name, cfg.seed, m)
            for i, m in enumerate(METRICS)
        ]
        counts.append(
            params_frame(spec.experiment, name, list(ws), ps, full, test.meta["backbone_params"])
        )
    write_csv(pd.concat(frames, ignore_index=True), out)
    write_csv(pd.concat(counts, ignore_index=True), params)


def grid(spec: HeadGrid, *, models: list[In], features: In, out: Out):
    """The (w1, w2) grid of every seed's head, with the Pareto front over the mean top-1."""
    dev = resolve_device(spec.device)
    rows_in = FeatureCache(features, dev)
    frames = []
    for path in models:
        net = load_head(path, dev, rows_in.dim)
        hidden, classes = net[0].out_features, net[-1].out_features
        ws = [w for w in spec.widths if w <= hidden]
        top1 = grid_top1(net, rows_in.batches(1024), ws)
        seed = int(_meta(path)["train"]["seed"])
        frames.append(
            grid_rows(top1, ws, spec.experiment, spec.model, seed, (rows_in.dim, hidden, classes))
        )
        log.info("%s: %d x %d grid", path, len(ws), len(ws))
    found = mean_grid(pd.concat(frames, ignore_index=True))
    on, tied, gain = tied_on_front(found)
    log.info("tied widths on the front: %d of %d (largest gain off it: %.4f)", on, tied, gain)
    write_csv(found, out)


def paired(
    spec: HeadPaired,
    *,
    models: list[In],
    others: list[In],
    reference: In,
    train: In,
    val: In,
    out: Out,
):
    """Each ``models`` head (one per seed) against every control, image by image (McNemar):
    ``others`` (trained heads ``runs/<exp>/<variant>/seed<s>/model.pt``, compared at their seed)
    and the reference cut without training (SVD at the head's parameters, ranked units)."""
    dev = resolve_device(spec.device)
    test = FeatureCache(val, dev)
    ref = load_head(reference, dev, test.dim)
    in_f, hidden, classes = ref[0].in_features, ref[0].out_features, ref[-1].out_features
    ws = [w for w in spec.widths if w <= hidden]
    ranked = ranked_reference(
        reference, FeatureCache(train, dev, in_memory=False), spec.rank_samples, dev
    )
    cuts = {"ranked": correct_by_width(ranked, test.batches(1024), ws), "svd": {}}
    for w in ws:
        rank = svd_rank_at(in_f, hidden, classes, w)
        if rank:
            cuts["svd"][w] = correct(svd_head(ref, rank).to(dev), test.batches(1024))
    trained: dict[tuple[str, int], dict[int, np.ndarray]] = {}
    for path in others:
        net, meta = load_head(path, dev, test.dim), _meta(path)
        seed, own = int(meta["train"]["seed"]), net[0].out_features
        # A head narrower than the sweep is compared at its own width; no TD (mode none, the
        # plain objective) at full width only (cut, it is not a control but the method's
        # absence); Matryoshka and the sandwich rule (mode none too) serve every width.
        plain = meta.get("objective", {}).get("loss", "plain") == "plain"
        cut = own == hidden and (meta["arch"]["model"]["mode"] != "none" or not plain)
        at = [w for w in ws if w <= own] if cut else [own]
        # Every fixed width is one control ("fixed"), each at its own width.
        trained.setdefault((rows_name(Path(path).parent.parent.name), seed), {}).update(
            correct_by_width(net, test.batches(1024), at)
        )
    rows = []
    for path in models:
        seed = int(_meta(path)["train"]["seed"])
        mine = correct_by_width(load_head(path, dev, test.dim), test.batches(1024), ws)
        # The cuts serve every seed; a trained control, the head of its own seed.
        controls = [*cuts.items(), *((n, f) for (n, s), f in trained.items() if s == seed)]
        rows += [
            paired_row(spec.experiment, spec.model, name, w, seed, mine[w], found[w])
            for w in ws
            for name, found in controls
            if w in found
        ]
    found = pd.DataFrame(rows, columns=PAIRED_COLUMNS)
    log.info("%d paired comparisons of %d images", len(found), len(test))
    write_csv(found, out)


def _meta(path) -> dict:
    """A trained head's metadata (its seed under ``train``, its mode under ``arch``)."""
    return load_model_file(path)[1]


def plot_grid(spec: TableSpec, *, grid: In, png: Out):
    """The (w1, w2) grid: top-1 over both widths, and against parameters with its front."""
    matplotlib.use("Agg")
    from tridrop.families.head.figure import plot_grid as draw

    save(draw(pd.read_csv(grid)), png)


def baselines(spec: HeadBaselines, *, reference: In, train: In, val: In, out: Out, params: Out):
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


def table(spec: TableSpec, *, sweeps: In, params: list[In], out: Out):
    """The accuracy against parameters table (the paper's "compressed" VGG19 table)."""
    counts = pd.concat([read_csv(f, PARAM_COLUMNS) for f in params], ignore_index=True)
    write_csv(accuracy_table(read_csv(sweeps, COLUMNS), counts, spec.experiment), out)


def claims(spec: HeadClaimsJob, *, table: In, sweeps: In, out: Out):
    """The "minimal impact" claims of a pruned head, from its accuracy table and (per seed)
    the aggregated sweeps."""
    rows = read_csv(sweeps, ["experiment", "model", "seed", "width", "metric", "value"])
    found = head_claims(read_csv(table, TABLE_COLUMNS), rows, spec.claims, spec.classes)
    write_csv(found, out)


def select(spec: Select, *, models: list[In], features: In, out: Out):
    """The width ``select_width`` picks for each head at each tolerance (top-1 within that
    share of full width's, with ``spec.confidence``), chosen on the even test images and
    checked on the odd ones."""
    from tridrop.tables import select_table

    dev = resolve_device(spec.device)
    rows_in = FeatureCache(features, dev)
    every = torch.arange(len(rows_in))
    x, y = rows_in[every], rows_in.labels.to(dev)
    chosen, check = [(x[0::2], y[0::2])], [(x[1::2], y[1::2])]
    load = partial(load_head, device=dev, in_features=rows_in.dim)
    write_csv(select_table(spec, models, load, chosen, check, "accuracy", "top1"), out)


def gap(spec: Gap, *, sweeps: In, meta: list[In], out: Out):
    """The gap report of one head experiment: each head serving every width (TD, no TD, the
    relatives) against no TD at full width and the heads trained at each width, in top-1
    error (lower is better, as the autoencoders' MSE), with its training cost."""
    from tridrop.gap import costs, gap_table

    if len(meta) != len(spec.models):
        raise ValueError(f"{len(meta)} metadata files for {len(spec.models)} model names")
    runs = []
    for path, model in zip(meta, spec.models, strict=True):
        m = read_json(path)
        try:
            runs.append(costs(m, model) | {"forward_passes": objectives.run_passes(m)})
        except (KeyError, TypeError) as err:
            raise ValueError(f"{path}: not a trained head's metadata (no {err})") from None
    rows = read_csv(sweeps, COLUMNS)
    err = rows[(rows["experiment"] == spec.experiment) & (rows["metric"] == "top1")].copy()
    err["metric"], err["value"] = "error", 1.0 - err["value"]
    table = gap_table(err, pd.DataFrame(runs), HEAD, "error", spec.notd)
    table.insert(0, "experiment", spec.experiment)
    log.info("gap report of %s:\n%s", spec.experiment, table.to_string())
    write_csv(table, out)


def plot_accuracy(spec: HeadFigure, *, table: In, png: Out):
    """A head's test top-1 (and top-5 for 100 classes or more) against its parameters."""
    matplotlib.use("Agg")  # figures are files; no display is assumed
    from tridrop.families.head.figure import plot

    columns = ("experiment", "model", "width", "head_params", "top1", "top1_std", "seeds")
    save(plot(read_csv(table, columns), spec), png)


VERBS = (
    "check",
    "backbone",
    "cache",
    "pretrained",
    "train",
    "sweep",
    "baselines",
    "probe",
    "finetune",
    "grid",
    "plot_grid",
    "paired",
    "table",
    "claims",
    "gap",
    "select",
    "plot_accuracy",
)
